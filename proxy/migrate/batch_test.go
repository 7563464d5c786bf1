package migrate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// testBatch has a vendor object, three messages, every recipient list
// kind the tests need, skipped ids (empty, non-string) and spacing that
// Partition must carry as it is.
const testBatch = `{"v":1,"vendor":{"easemob":{"org":"o","app":"a"}},"messages":[` +
	`{"kind":"text","from":"alice","to":{"users":["bob","carol",""],"groups":["g1"],"all":true},"text": "hi","ext":{"k":[1,2]}},` +
	`{"kind":"image","to":{"users":["bob"]},"media":{"url":"u"}},` +
	`{"kind":"text","from":"dave","to":{"rooms":["r1"],"emails":["e@x"],"users":[7]},"text":"x"}` +
	`]}`

// testLegs assigns testBatch's recipients to three legs.
var testLegs = map[string]int{
	"user:bob": 0, "user:carol": 1, "group:g1": 1, "all:": 2, "room:r1": 1, "email:e@x": 0,
}

type call struct {
	msg          int
	kind, toType string
	id           string
}

func assignFrom(legs map[string]int, calls *[]call) func(int, gjson.Result, string, string) int {
	return func(msg int, m gjson.Result, toType, id string) int {
		if calls != nil {
			*calls = append(*calls, call{msg, m.Get("kind").Str, toType, id})
		}
		l, ok := legs[toType+":"+id]
		if !ok {
			return -1
		}
		return l
	}
}

func TestPartition(t *testing.T) {
	var calls []call
	parts, err := Partition([]byte(testBatch), 3, assignFrom(testLegs, &calls), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []call{
		{0, "text", "user", "bob"}, {0, "text", "user", "carol"}, {0, "text", "group", "g1"}, {0, "text", "all", ""},
		{1, "image", "user", "bob"},
		{2, "text", "room", "r1"}, {2, "text", "email", "e@x"},
	}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("assign calls\n got %v\nwant %v", calls, wantCalls)
	}
	const head = `{"v":1,"vendor":{"easemob":{"org":"o","app":"a"}},"messages":[`
	want := []Part{
		{
			Batch: []byte(head +
				`{"kind":"text","from":"alice","to":{"users":["bob"],"groups":[]},"text": "hi","ext":{"k":[1,2]}},` +
				`{"kind":"image","to":{"users":["bob"]},"media":{"url":"u"}},` +
				`{"kind":"text","from":"dave","to":{"users":[],"rooms":[],"emails":["e@x"]},"text":"x"}]}`),
			Index: []int{0, 1, 2},
			N:     3,
		},
		{
			Batch: []byte(head +
				`{"kind":"text","from":"alice","to":{"users":["carol"],"groups":["g1"]},"text": "hi","ext":{"k":[1,2]}},` +
				`{"kind":"text","from":"dave","to":{"users":[],"rooms":["r1"],"emails":[]},"text":"x"}]}`),
			Index: []int{0, 2},
			N:     3,
		},
		{
			Batch: []byte(head +
				`{"kind":"text","from":"alice","to":{"users":[],"groups":[],"all":true},"text": "hi","ext":{"k":[1,2]}}]}`),
			Index: []int{0},
			N:     1,
		},
	}
	checkParts(t, parts, want)

	// Reuse: a second call into the same parts gives the same answer in
	// the same memory.
	first := &parts[0].Batch[0]
	parts, err = Partition([]byte(testBatch), 3, assignFrom(testLegs, nil), parts)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, parts, want)
	if &parts[0].Batch[0] != first {
		t.Error("Partition did not reuse the part's buffer")
	}

	// More legs than used: the idle ones are nil, the slice is grown.
	parts, err = Partition([]byte(testBatch), 5, assignFrom(testLegs, nil), parts)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, parts, append(want, Part{}, Part{}))
}

func checkParts(t *testing.T, got, want []Part) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d parts, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.Batch) != string(w.Batch) || (g.Batch == nil) != (w.Batch == nil) {
			t.Errorf("part %d batch\n got %s\nwant %s", i, g.Batch, w.Batch)
		}
		if g.Batch != nil && !json.Valid(g.Batch) {
			t.Errorf("part %d is not valid JSON: %s", i, g.Batch)
		}
		if !slices.Equal(g.Index, w.Index) || g.N != w.N {
			t.Errorf("part %d: Index %v N %d, want %v %d", i, g.Index, g.N, w.Index, w.N)
		}
	}
}

func TestPartitionNoVendorAndEscapes(t *testing.T) {
	batch := `{"v":1,"messages":[{"kind":"text","to":{"users":["a\"b","c\\d","\u00e9t\u00e9","日本"],"departments":["d/1"]}}]}`
	legs := map[string]int{`user:a"b`: 1, `user:c\d`: 0, "user:été": 1, "user:日本": 0, "department:d/1": 1}
	parts, err := Partition([]byte(batch), 2, assignFrom(legs, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, parts, []Part{
		{Batch: []byte(`{"v":1,"messages":[{"kind":"text","to":{"users":["c\\d","日本"],"departments":[]}}]}`), Index: []int{0}, N: 2},
		{Batch: []byte(`{"v":1,"messages":[{"kind":"text","to":{"users":["a\"b","\u00e9t\u00e9"],"departments":["d/1"]}}]}`), Index: []int{0}, N: 3},
	})
	var users []string
	gjson.GetBytes(parts[1].Batch, "messages.0.to.users").ForEach(func(_, v gjson.Result) bool {
		users = append(users, v.Str)
		return true
	})
	if !slices.Equal(users, []string{`a"b`, "été"}) {
		t.Errorf("leg 1 users read back as %q", users)
	}
}

func TestPartitionErrors(t *testing.T) {
	all0 := func(int, gjson.Result, string, string) int { return 0 }
	for _, tc := range []struct {
		name, batch string
		legs        int
		assign      func(int, gjson.Result, string, string) int
		want        string
	}{
		{"not JSON", `{"v":1,"messages":[`, 2, all0, "not valid JSON"},
		{"no messages", `{"v":1}`, 2, all0, `no "messages"`},
		{"messages not an array", `{"v":1,"messages":{}}`, 2, all0, `no "messages"`},
		{"no legs", testBatch, 0, all0, "0 legs"},
		{"leg too high", testBatch, 2, func(int, gjson.Result, string, string) int { return 2 }, "leg 2 is outside 0..1"},
		{"leg negative", testBatch, 2, assignFrom(map[string]int{"user:bob": 0}, nil), `message 0, user "carol": leg -1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := Partition([]byte(tc.batch), tc.legs, tc.assign, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			for i, p := range parts {
				if p.Batch != nil || p.N != 0 {
					t.Errorf("part %d left filled after an error: %+v", i, p)
				}
			}
		})
	}
}

func TestPartitionNoRecipients(t *testing.T) {
	batch := `{"v":1,"messages":[{"kind":"text","to":{"users":[""]}},{"kind":"text"},{"kind":"text","to":{"all":false}}]}`
	parts, err := Partition([]byte(batch), 2, func(int, gjson.Result, string, string) int {
		t.Error("assign called for a message without recipients")
		return 0
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, parts, []Part{{}, {}})
}

// mergeParts are testBatch's parts under testLegs.
func mergeParts(t *testing.T) []Part {
	t.Helper()
	parts, err := Partition([]byte(testBatch), 3, assignFrom(testLegs, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func TestMerge(t *testing.T) {
	leg0 := `{"v":1,"results":[` +
		`{"message":0,"to":"bob","to_type":"user","ok":true,"id":"m1"},` +
		`{"message":1,"to":"bob","to_type":"user","ok":true,"id":"m2"},` +
		`{"message":2,"to":"e@x","to_type":"email","ok":true}]}`
	// leg 1 answers its second message (the original's third) first, with
	// "message" in the middle of the entry.
	leg1 := `{"v":1,"results":[` +
		`{"to":"r1", "message": 1, "to_type":"room","ok":false,"code":"upstream","error":"no room","status":404},` +
		`{"message":0,"to":"carol","to_type":"user","ok":true,"degraded":"location→text"},` +
		`{"message":0,"to":"g1","to_type":"group","ok":true}]}`
	leg2Err := `{"v":1,"error":{"code":"unauthorized","message":"bad \"token\""},"results":[]}`

	for _, tc := range []struct {
		name    string
		results []string
		want    string
	}{
		{
			"one leg failed",
			[]string{leg0, leg1, leg2Err},
			`{"v":1,"results":[` +
				`{"message":0,"to":"bob","to_type":"user","ok":true,"id":"m1"},` +
				`{"message":0,"to":"carol","to_type":"user","ok":true,"degraded":"location→text"},` +
				`{"message":0,"to":"g1","to_type":"group","ok":true},` +
				`{"message":0,"to":"","to_type":"all","ok":false,"code":"unauthorized","error":"bad \"token\""},` +
				`{"message":1,"to":"bob","to_type":"user","ok":true,"id":"m2"},` +
				`{"message":2,"to":"e@x","to_type":"email","ok":true},` +
				`{"to":"r1", "message": 2, "to_type":"room","ok":false,"code":"upstream","error":"no room","status":404}]}`,
		},
		{
			"invalid and codeless errors",
			[]string{leg0, `{"v":1,"results":[`, `{"v":1,"error":{"message":"no code"}}`},
			`{"v":1,"results":[` +
				`{"message":0,"to":"bob","to_type":"user","ok":true,"id":"m1"},` +
				`{"message":0,"to":"carol","to_type":"user","ok":false,"code":"internal","error":"the provider's results document is not valid JSON"},` +
				`{"message":0,"to":"g1","to_type":"group","ok":false,"code":"internal","error":"the provider's results document is not valid JSON"},` +
				`{"message":0,"to":"","to_type":"all","ok":false,"code":"internal","error":"no code"},` +
				`{"message":1,"to":"bob","to_type":"user","ok":true,"id":"m2"},` +
				`{"message":2,"to":"e@x","to_type":"email","ok":true},` +
				`{"message":2,"to":"r1","to_type":"room","ok":false,"code":"internal","error":"the provider's results document is not valid JSON"}]}`,
		},
		{
			"entries that name no message of their part are dropped",
			[]string{
				`{"v":1,"results":[{"message":3,"to":"x","ok":true},{"to":"y","ok":true},{"message":0.5,"ok":true},{"message":"0","ok":true},{"message":-1,"ok":true}]}`,
				`{"v":1,"results":[]}`,
				`{"v":1}`,
			},
			`{"v":1,"results":[]}`,
		},
		{
			"every leg failed",
			[]string{`{"v":1,"error":{"code":"timeout","message":"slow","field":"x"},"results":[]}`, `not json`, leg2Err},
			`{"v":1,"error":{"code":"timeout","message":"slow","field":"x"},"results":[]}`,
		},
		{
			"every leg failed, the first with invalid JSON",
			[]string{`{`, leg2Err, leg2Err},
			`{"v":1,"error":{"code":"internal","message":"the provider's results document is not valid JSON"},"results":[]}`,
		},
		{
			"every leg failed, the first with a string error",
			[]string{`{"error":"boom"}`, leg2Err, leg2Err},
			`{"v":1,"error":{"code":"internal","message":"boom"},"results":[]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := make([][]byte, len(tc.results))
			for i, r := range tc.results {
				results[i] = []byte(r)
			}
			out := Merge([]byte("prefix:"), mergeParts(t), results)
			got, ok := strings.CutPrefix(string(out), "prefix:")
			if !ok {
				t.Fatalf("Merge did not append to dst: %s", out)
			}
			if got != tc.want {
				t.Errorf("Merge\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("Merge output is not valid JSON: %s", got)
			}
		})
	}
}

func TestMergeIgnoresIdleParts(t *testing.T) {
	parts, err := Partition([]byte(testBatch), 4, func(int, gjson.Result, string, string) int { return 1 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	// parts 0, 2 and 3 got nothing; their results are garbage or missing.
	got := string(Merge(nil, parts, [][]byte{[]byte("garbage"), []byte(`{"v":1,"results":[{"message":1,"to":"bob","to_type":"user","ok":true}]}`)}))
	want := `{"v":1,"results":[{"message":1,"to":"bob","to_type":"user","ok":true}]}`
	if got != want {
		t.Errorf("Merge\n got %s\nwant %s", got, want)
	}
	if got := string(Merge(nil, make([]Part, 2), nil)); got != `{"v":1,"results":[]}` {
		t.Errorf("Merge of no used part = %s", got)
	}
}

func TestMergeFailedPartEscapes(t *testing.T) {
	batch := `{"v":1,"messages":[{"kind":"text","to":{"users":["a\"b","\u00e9"],"emails":["x\\y"]}}]}`
	parts, err := Partition([]byte(batch), 2, func(_ int, _ gjson.Result, toType, _ string) int {
		if toType == "email" {
			return 1
		}
		return 0
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := Merge(nil, parts, [][]byte{
		[]byte(`{"v":1,"error":{"code":"busy","message":"line\nbreak \u2028"}}`),
		[]byte(`{"v":1,"results":[{"message":0,"to":"x\\y","to_type":"email","ok":true}]}`),
	})
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var doc struct {
		Results []struct {
			Message     int
			To          string
			ToType      string `json:"to_type"`
			OK          bool
			Code, Error string
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range doc.Results {
		got = append(got, fmt.Sprintf("%d|%s|%v|%s|%s", r.Message, r.To, r.OK, r.Code, r.Error))
	}
	want := []string{
		"0|a\"b|false|busy|line\nbreak \u2028",
		"0|é|false|busy|line\nbreak \u2028",
		"0|x\\y|true||",
	}
	if !slices.Equal(got, want) {
		t.Errorf("merged entries\n got %q\nwant %q", got, want)
	}
}

// TestPartitionMergeRoundTrip partitions random batches at random, answers
// every sub-batch recipient by recipient, and checks that the merged
// document answers each recipient of the original batch exactly once, in
// message order.
func TestPartitionMergeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	lists := []string{"users", "groups", "rooms", "departments", "emails"}
	var parts []Part
	for iter := range 300 {
		var b strings.Builder
		b.WriteString(`{"v":1,"messages":[`)
		nmsg := 1 + r.IntN(6)
		for m := range nmsg {
			if m > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"kind":"text","text":"m%d","to":{`, m)
			first := true
			for _, l := range lists {
				if r.IntN(2) == 0 {
					continue
				}
				if !first {
					b.WriteByte(',')
				}
				first = false
				fmt.Fprintf(&b, `%q:[`, l)
				for k := range r.IntN(4) {
					if k > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `"%s%d"`, l[:1], r.IntN(5))
				}
				b.WriteByte(']')
			}
			if r.IntN(3) == 0 {
				if !first {
					b.WriteByte(',')
				}
				b.WriteString(`"all":true`)
			}
			b.WriteString(`}}`)
		}
		b.WriteString(`]}`)
		batch := []byte(b.String())
		legs := 1 + r.IntN(4)

		var want []string
		walk(batch, func(msg int, toType, id string) { want = append(want, fmt.Sprintf("%d|%s|%s", msg, toType, id)) })

		var err error
		parts, err = Partition(batch, legs, func(int, gjson.Result, string, string) int { return r.IntN(legs) }, parts)
		if err != nil {
			t.Fatalf("iteration %d: %v\n%s", iter, err, batch)
		}
		results := make([][]byte, legs)
		n := 0
		for i, p := range parts {
			if p.Batch == nil {
				continue
			}
			n += p.N
			var rb strings.Builder
			rb.WriteString(`{"v":1,"results":[`)
			k := 0
			walk(p.Batch, func(msg int, toType, id string) {
				if k > 0 {
					rb.WriteByte(',')
				}
				k++
				fmt.Fprintf(&rb, `{"message":%d,"to":%q,"to_type":%q,"ok":true}`, msg, id, toType)
			})
			if k != p.N {
				t.Fatalf("iteration %d: part %d has %d recipients, N = %d", iter, i, k, p.N)
			}
			rb.WriteString(`]}`)
			results[i] = []byte(rb.String())
		}
		if n != len(want) {
			t.Fatalf("iteration %d: parts hold %d recipients, the batch %d", iter, n, len(want))
		}
		out := Merge(nil, parts, results)
		var got []string
		prev := -1
		gjson.GetBytes(out, "results").ForEach(func(_, e gjson.Result) bool {
			msg := int(e.Get("message").Int())
			if msg < prev {
				t.Fatalf("iteration %d: message %d after %d in %s", iter, msg, prev, out)
			}
			prev = msg
			got = append(got, fmt.Sprintf("%d|%s|%s", msg, e.Get("to_type").Str, e.Get("to").Str))
			return true
		})
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: merged\n%v\nwant\n%v\nbatch %s", iter, got, want, batch)
		}
	}
}

// walk is an independent recipient walk for the tests, through
// encoding/json.
func walk(batch []byte, fn func(msg int, toType, id string)) {
	var doc struct {
		Messages []struct {
			To map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(batch, &doc); err != nil {
		panic(err)
	}
	for i, m := range doc.Messages {
		for _, l := range []struct{ key, typ string }{{"users", "user"}, {"groups", "group"}, {"rooms", "room"}, {"departments", "department"}, {"emails", "email"}} {
			var ids []any
			json.Unmarshal(m.To[l.key], &ids)
			for _, id := range ids {
				if s, ok := id.(string); ok && s != "" {
					fn(i, l.typ, s)
				}
			}
		}
		if string(m.To["all"]) == "true" {
			fn(i, "all", "")
		}
	}
}

func TestSingle(t *testing.T) {
	const head = `{"v":1,"vendor":{"easemob":{"org":"o","app":"a"}},"messages":[`
	for _, tc := range []struct {
		batch string
		i     int
		want  string
		ok    bool
	}{
		{testBatch, 0, head + `{"kind":"text","from":"alice","to":{"users":["bob","carol",""],"groups":["g1"],"all":true},"text": "hi","ext":{"k":[1,2]}}]}`, true},
		{testBatch, 2, head + `{"kind":"text","from":"dave","to":{"rooms":["r1"],"emails":["e@x"],"users":[7]},"text":"x"}]}`, true},
		{`{"v":1,"messages":[{"kind":"tip"},{"kind":"sms"}]}`, 1, `{"v":1,"messages":[{"kind":"sms"}]}`, true},
		{testBatch, 3, "", false},
		{testBatch, -1, "", false},
		{`{"v":1,"messages":[`, 0, "", false},
		{`{"v":1}`, 0, "", false},
	} {
		out, ok := Single([]byte("dst:"), []byte(tc.batch), tc.i)
		if ok != tc.ok {
			t.Errorf("Single(%d) ok = %v, want %v", tc.i, ok, tc.ok)
			continue
		}
		if !ok {
			if string(out) != "dst:" {
				t.Errorf("Single(%d) failed but changed dst: %s", tc.i, out)
			}
			continue
		}
		if string(out) != "dst:"+tc.want {
			t.Errorf("Single(%d)\n got %s\nwant dst:%s", tc.i, out, tc.want)
		}
	}
}

func TestKinds(t *testing.T) {
	batch := []byte(`{"v":1,"messages":[{"kind":"text"},{},{"kind":7},{"kind":"weird\u0021"},{"kind":"image"}]}`)
	got := Kinds(batch, []string{"keep"})
	want := []string{"keep", "text", "", "", "weird!", "image"}
	if !slices.Equal(got, want) {
		t.Errorf("Kinds = %q, want %q", got, want)
	}
	if got := Kinds([]byte(`{"v":1}`), nil); len(got) != 0 {
		t.Errorf("Kinds of no messages = %q", got)
	}
}

type cmpRow struct {
	msg   int
	kind  string
	pOK   bool
	pCode string
	mOK   bool
	mCode string
}

func TestCompare(t *testing.T) {
	batch := `{"v":1,"messages":[` +
		`{"kind":"text","to":{"users":["bob","carol"],"groups":["g1"]}},` +
		`{"kind":"image","to":{"all":true}},` +
		`{"to":{"users":["bob"]}}]}`
	for _, tc := range []struct {
		name            string
		primary, mirror string
		want            []cmpRow
	}{
		{
			"entries, missing and a request-level error",
			`{"v":1,"results":[` +
				`{"message":0,"to":"bob","to_type":"user","ok":true},` +
				`{"message":0,"to":"carol","to_type":"user","ok":false,"code":"upstream"},` +
				`{"message":1,"to":"org","to_type":"all","ok":true},` +
				`{"message":0,"to":"bob","to_type":"group","ok":true}]}`,
			`{"v":1,"error":{"code":"rate_limited","message":"slow down"},"results":[` +
				`{"message":0,"to":"carol","to_type":"user","ok":true}]}`,
			[]cmpRow{
				{0, "text", true, "", false, "rate_limited"},
				{0, "text", false, "upstream", true, ""},
				{0, "text", false, "missing", false, "rate_limited"},
				{1, "image", true, "", false, "rate_limited"},
				{2, "", false, "missing", false, "rate_limited"},
			},
		},
		{
			"duplicates, codeless failures, invalid JSON",
			`{"v":1,"results":[` +
				`{"message":0,"to":"bob","to_type":"user","ok":false,"code":"timeout"},` +
				`{"message":0,"to":"bob","to_type":"user","ok":true},` +
				`{"message":0,"to":"carol","to_type":"user","ok":false},` +
				`{"message":0,"to":"g1","to_type":"group","ok":false,"code":"not_sent"},` +
				`{"message":0,"to":"g1","to_type":"group","ok":false,"code":"busy"},` +
				`{"message":2,"to":"bob","to_type":"user","ok":false,"code":"vendor_specific"}]}`,
			`{"v":1,"results":[`,
			[]cmpRow{
				{0, "text", true, "", false, "internal"},
				{0, "text", false, "internal", false, "internal"},
				{0, "text", false, "not_sent", false, "internal"},
				{1, "image", false, "missing", false, "internal"},
				{2, "", false, "vendor_specific", false, "internal"},
			},
		},
		{
			"both fine",
			`{"v":1,"results":[{"message":0,"to":"bob","to_type":"user","ok":true},{"message":0,"to":"carol","to_type":"user","ok":true},{"message":0,"to":"g1","to_type":"group","ok":true},{"message":1,"to":"","to_type":"all","ok":true},{"message":2,"to":"bob","to_type":"user","ok":true}]}`,
			`{"v":1,"error":null,"results":[{"message":2,"to":"bob","to_type":"user","ok":true},{"message":1,"to_type":"all","ok":true},{"message":0,"to":"g1","to_type":"group","ok":true},{"message":0,"to":"carol","to_type":"user","ok":true},{"message":0,"to":"bob","to_type":"user","ok":true}]}`,
			[]cmpRow{
				{0, "text", true, "", true, ""},
				{0, "text", true, "", true, ""},
				{0, "text", true, "", true, ""},
				{1, "image", true, "", true, ""},
				{2, "", true, "", true, ""},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			primary, mirror := []byte(tc.primary), []byte(tc.mirror)
			var got []cmpRow
			Compare([]byte(batch), primary, mirror, func(msg int, kind string, pOK bool, pCode string, mOK bool, mCode string) {
				got = append(got, cmpRow{msg, kind, pOK, pCode, mOK, mCode})
			})
			// The strings handed out must not view the documents.
			for i := range primary {
				primary[i] = 'X'
			}
			for i := range mirror {
				mirror[i] = 'X'
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Compare\n got %v\nwant %v", got, tc.want)
			}
		})
	}
	called := false
	Compare([]byte(`{"v":1,"messages":[`), nil, nil, func(int, string, bool, string, bool, string) { called = true })
	if called {
		t.Error("Compare walked an invalid batch")
	}
}

// benchBatch is a batch of 10 messages with 3 recipients each.
func benchBatch() []byte {
	var b strings.Builder
	b.WriteString(`{"v":1,"vendor":{"easemob":{"org":"o","app":"a"}},"messages":[`)
	for i := range 10 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"kind":"text","from":"sender%d","to":{"users":["u%d","v%d"],"groups":["g%d"]},"text":"message number %d","options":{"silent":true}}`, i, i, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func benchAssign(s *Split) func(int, gjson.Result, string, string) int {
	var key []byte
	return func(_ int, _ gjson.Result, toType, id string) int {
		key = AppendKey(key[:0], KeyRecipient, "", toType, id)
		return s.Leg(Bucket(key))
	}
}

func BenchmarkPartition(b *testing.B) {
	batch := benchBatch()
	s, err := NewSplit([]int{50, 50})
	if err != nil {
		b.Fatal(err)
	}
	assign := benchAssign(s)
	var parts []Part
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if parts, err = Partition(batch, 2, assign, parts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	batch := benchBatch()
	s, err := NewSplit([]int{50, 50})
	if err != nil {
		b.Fatal(err)
	}
	parts, err := Partition(batch, 2, benchAssign(s), nil)
	if err != nil {
		b.Fatal(err)
	}
	results := make([][]byte, len(parts))
	for i, p := range parts {
		var rb strings.Builder
		rb.WriteString(`{"v":1,"results":[`)
		k := 0
		walk(p.Batch, func(msg int, toType, id string) {
			if k > 0 {
				rb.WriteByte(',')
			}
			k++
			fmt.Fprintf(&rb, `{"message":%d,"to":%q,"to_type":%q,"ok":true,"id":"%d-%s"}`, msg, id, toType, msg, id)
		})
		rb.WriteString(`]}`)
		results[i] = []byte(rb.String())
	}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = Merge(out[:0], parts, results)
	}
	if n := gjson.GetBytes(out, "results.#").Int(); n != 30 {
		b.Fatalf("merged %d entries, want 30", n)
	}
}
