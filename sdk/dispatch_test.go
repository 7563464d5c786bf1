package sdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// testCodec is a codec whose hooks the tests set one by one.
type testCodec struct {
	decodeRequest  func(*Request, *JSON) error
	encodeRequest  func(opts, batch []byte, out *Requests) error
	decodeResponse func(opts, batch []byte, a *Answers, out *JSON) error
	encodeResponse func(opts, batch, results, clientBody []byte, out *Reply) error
	init           func([]byte) error
}

func (c *testCodec) DecodeRequest(r *Request, out *JSON) error { return c.decodeRequest(r, out) }
func (c *testCodec) EncodeRequest(o, b []byte, out *Requests) error {
	return c.encodeRequest(o, b, out)
}
func (c *testCodec) DecodeResponse(o, b []byte, a *Answers, out *JSON) error {
	return c.decodeResponse(o, b, a, out)
}
func (c *testCodec) EncodeResponse(o, b, r, cb []byte, out *Reply) error {
	return c.encodeResponse(o, b, r, cb, out)
}
func (c *testCodec) Init(config []byte) error {
	if c.init == nil {
		return nil
	}
	return c.init(config)
}

var (
	_ Codec = (*testCodec)(nil)
	_ Init  = (*testCodec)(nil)
)

// typicalCodec translates the way a real codec does: gjson reads in
// place, the builder writes.
func typicalCodec() *testCodec {
	return &testCodec{
		decodeRequest: func(r *Request, out *JSON) error {
			body := Parse(r.Body)
			to := body.Get("to")
			if to.Type != gjson.String {
				return BadField("to", "to is required")
			}
			out.Object().KeyInt("v", 1).Key("messages").Array()
			out.Object().KeyString("kind", "text").Key("to").Object().Key("users").Array().Value(to).End().End()
			out.KeyValue("text", body.Get("text")).OptValue("ext", body.Get("ext"))
			out.End().End().End()
			return nil
		},
		encodeRequest: func(opts, batch []byte, out *Requests) error {
			i := 0
			Get(batch, "messages").ForEach(func(_, m gjson.Result) bool {
				body := out.Begin("POST", "/send", "v=2", "application/json")
				body.Object().KeyValue("to", m.Get("to.users.0")).KeyValue("text", m.Get("text")).End()
				out.End([]byte("tag"))
				i++
				return true
			})
			out.Add("GET", "/ping", "", "", nil, nil)
			return nil
		},
		decodeResponse: func(opts, batch []byte, a *Answers, out *JSON) error {
			out.Object().KeyInt("v", 1).Key("results").Array()
			for i := 0; i < a.Len(); i++ {
				ans := a.At(i)
				out.Object().KeyInt("message", int64(i)).KeyBool("ok", ans.Status == 200).OptValue("id", Get(ans.Body, "id")).End()
			}
			out.End().End()
			return nil
		},
		encodeResponse: func(opts, batch, results, clientBody []byte, out *Reply) error {
			out.Status = 202
			out.Body.Object().KeyBool("ok", Get(results, "results.0.ok").Bool()).End()
			return nil
		},
	}
}

func testFrame(fields ...string) []byte {
	b := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		b = abi.AppendFieldString(b, f)
	}
	return b
}

func testAnswers(answers ...[4]string) string {
	b := abi.AppendFrame(nil, len(answers))
	for _, a := range answers {
		b = abi.AppendField(b, testFrame(a[:]...))
	}
	return string(b)
}

var (
	inDecodeRequest  = testFrame(`{}`, "POST", "/echo", "", "application/json", `{"to":"alice","text":"hi","ext":{"k":[1]}}`)
	inEncodeRequest  = testFrame(`{}`, `{"v":1,"messages":[{"kind":"text","to":{"users":["alice"]},"text":"hi"}]}`)
	inDecodeResponse = testFrame(`{}`, `{}`, testAnswers([4]string{"tag", "200", "application/json", `{"id":"m1"}`}, [4]string{"", "500", "", ""}))
	inEncodeResponse = testFrame(`{}`, `{}`, `{"v":1,"results":[{"ok":true}]}`, `{}`)
)

func useCodec(t *testing.T, c Codec) {
	t.Helper()
	RegisterCodec(c)
	t.Cleanup(func() { codec, middleware = nil, nil })
}

func TestDispatchHooks(t *testing.T) {
	useCodec(t, typicalCodec())
	for _, tc := range []struct {
		hook abi.Hook
		in   []byte
		want func(t *testing.T, out []byte)
	}{
		{abi.HookDecodeRequest, inDecodeRequest, func(t *testing.T, out []byte) {
			wantSameJSON(t, out, `{"v":1,"messages":[{"kind":"text","to":{"users":["alice"]},"text":"hi","ext":{"k":[1]}}]}`)
		}},
		{abi.HookEncodeRequest, inEncodeRequest, func(t *testing.T, out []byte) {
			reqs, err := abi.Split(out, nil)
			if err != nil || len(reqs) != 2 {
				t.Fatalf("frame: %d requests, %v", len(reqs), err)
			}
			f, err := abi.Split(reqs[0], nil)
			if err != nil || len(f) != abi.RequestFields {
				t.Fatalf("request 0: %d fields, %v", len(f), err)
			}
			if got := string(f[abi.RequestFieldMethod]) + " " + string(f[abi.RequestFieldPath]) + "?" + string(f[abi.RequestFieldQuery]); got != "POST /send?v=2" {
				t.Errorf("request line %q", got)
			}
			if string(f[abi.RequestFieldTag]) != "tag" || string(f[abi.RequestFieldContentType]) != "application/json" {
				t.Errorf("tag %q content type %q", f[abi.RequestFieldTag], f[abi.RequestFieldContentType])
			}
			wantSameJSON(t, f[abi.RequestFieldBody], `{"to":"alice","text":"hi"}`)
			f, _ = abi.Split(reqs[1], nil)
			if len(f) != abi.RequestFields || string(f[abi.RequestFieldMethod]) != "GET" || len(f[abi.RequestFieldBody]) != 0 {
				t.Errorf("request 1 (Add): %q", f)
			}
		}},
		{abi.HookDecodeResponse, inDecodeResponse, func(t *testing.T, out []byte) {
			wantSameJSON(t, out, `{"v":1,"results":[{"message":0,"ok":true,"id":"m1"},{"message":1,"ok":false}]}`)
		}},
		{abi.HookEncodeResponse, inEncodeResponse, func(t *testing.T, out []byte) {
			f, err := abi.Split(out, nil)
			if err != nil || len(f) != abi.ResponseFields {
				t.Fatalf("reply frame: %d fields, %v", len(f), err)
			}
			if string(f[abi.ResponseFieldStatus]) != "202" || !strings.HasPrefix(string(f[abi.ResponseFieldContentType]), "application/json") {
				t.Errorf("status %q content type %q", f[abi.ResponseFieldStatus], f[abi.ResponseFieldContentType])
			}
			wantSameJSON(t, f[abi.ResponseFieldBody], `{"ok":true}`)
		}},
	} {
		t.Run(tc.hook.String(), func(t *testing.T) {
			out, isErr := Dispatch(tc.hook, tc.in)
			if isErr {
				t.Fatalf("error: %s", out)
			}
			tc.want(t, out)
		})
	}
}

func wantSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestDispatchZeroAlloc guards the hot path: once warm, no hook allocates
// in the SDK (the codec above reads with gjson in place and writes with the
// builder).
func TestDispatchZeroAlloc(t *testing.T) {
	useCodec(t, typicalCodec())
	for _, tc := range []struct {
		hook abi.Hook
		in   []byte
	}{
		{abi.HookDecodeRequest, inDecodeRequest},
		{abi.HookEncodeRequest, inEncodeRequest},
		{abi.HookDecodeResponse, inDecodeResponse},
		{abi.HookEncodeResponse, inEncodeResponse},
	} {
		Dispatch(tc.hook, tc.in)
		if n := testing.AllocsPerRun(50, func() { Dispatch(tc.hook, tc.in) }); n != 0 {
			t.Errorf("%s allocates %.1f times per call after warm-up, want 0", tc.hook, n)
		}
	}
}

func TestDispatchErrors(t *testing.T) {
	ok := func(r *Request, out *JSON) error { out.Object().End(); return nil }
	for _, tc := range []struct {
		name   string
		decode func(*Request, *JSON) error
		hook   abi.Hook
		in     []byte
		want   abi.GuestError
	}{
		{"guest error", func(*Request, *JSON) error { return BadField("msg.to", "to is %s", "missing") },
			abi.HookDecodeRequest, inDecodeRequest, abi.GuestError{Code: abi.CodeBadRequest, Field: "msg.to", Message: "to is missing"}},
		{"wrapped guest error", func(*Request, *JSON) error {
			return wrapErr{Error(abi.CodeTooLarge, "text", "too long")}
		}, abi.HookDecodeRequest, inDecodeRequest, abi.GuestError{Code: abi.CodeTooLarge, Field: "text", Message: "too long"}},
		{"plain error", func(*Request, *JSON) error { return errors.New("boom") },
			abi.HookDecodeRequest, inDecodeRequest, abi.GuestError{Code: abi.CodeInternal, Message: "boom"}},
		{"panic", func(*Request, *JSON) error { var m map[string]int; m["x"] = 1; return nil },
			abi.HookDecodeRequest, inDecodeRequest, abi.GuestError{Code: abi.CodeInternal, Message: "decode_request panicked: assignment to entry in nil map"}},
		{"open container", func(r *Request, out *JSON) error { out.Object().Key("a").Array(); return nil },
			abi.HookDecodeRequest, inDecodeRequest, abi.GuestError{Code: abi.CodeInternal, Message: "output left with 2 open containers"}},
		{"bad frame", ok, abi.HookDecodeRequest, []byte{9, 0, 0, 0}, abi.GuestError{Code: abi.CodeInternal, Message: "decode_request input"}},
		{"short frame", ok, abi.HookDecodeRequest, testFrame("{}", "POST"), abi.GuestError{Code: abi.CodeInternal, Message: "input has 2 fields, want 6"}},
		{"transform on a codec", ok, abi.HookTransform, testFrame("{}", "{}"), abi.GuestError{Code: abi.CodeInternal, Message: "no middleware"}},
		{"unknown hook", ok, 42, testFrame(), abi.GuestError{Code: abi.CodeInternal, Message: "unknown hook"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := typicalCodec()
			c.decodeRequest = tc.decode
			useCodec(t, c)
			out, isErr := Dispatch(tc.hook, tc.in)
			if !isErr {
				t.Fatalf("no error: %s", out)
			}
			got := abi.ParseGuestError(out)
			if got.Code != tc.want.Code || got.Field != tc.want.Field || !strings.Contains(got.Message, tc.want.Message) {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

type wrapErr struct{ err error }

func (w wrapErr) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapErr) Unwrap() error { return w.err }

func TestDispatchRequestsMisuse(t *testing.T) {
	for name, encode := range map[string]func(opts, batch []byte, out *Requests) error{
		"begin without end": func(_, _ []byte, out *Requests) error { out.Begin("POST", "/", "", "").Object().End(); return nil },
		"add inside begin": func(_, _ []byte, out *Requests) error {
			out.Begin("POST", "/", "", "").Object()
			out.Add("GET", "/", "", "", nil, nil)
			out.End(nil)
			return nil
		},
		"end without begin": func(_, _ []byte, out *Requests) error { out.End(nil); return nil },
		"body left open": func(_, _ []byte, out *Requests) error {
			out.Begin("POST", "/", "", "").Object().Key("a")
			out.End(nil)
			return nil
		},
		"begin twice": func(_, _ []byte, out *Requests) error {
			out.Begin("POST", "/", "", "").Object().End()
			out.Begin("POST", "/", "", "").Object().End()
			out.End(nil)
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := typicalCodec()
			c.encodeRequest = encode
			useCodec(t, c)
			out, isErr := Dispatch(abi.HookEncodeRequest, inEncodeRequest)
			if !isErr || !strings.Contains(string(out), "out of order") {
				t.Fatalf("got %s (error %v), want a Requests misuse error", out, isErr)
			}
			// The next call starts clean.
			c.encodeRequest = typicalCodec().encodeRequest
			if out, isErr := Dispatch(abi.HookEncodeRequest, inEncodeRequest); isErr {
				t.Fatalf("next call: %s", out)
			}
		})
	}
}

func TestDispatchReplyChecks(t *testing.T) {
	c := typicalCodec()
	c.encodeResponse = func(_, _, _, _ []byte, out *Reply) error { out.Status = 0; return nil }
	useCodec(t, c)
	if out, isErr := Dispatch(abi.HookEncodeResponse, inEncodeResponse); !isErr || !strings.Contains(string(out), "not an HTTP status") {
		t.Fatalf("status 0: got %s", out)
	}
	c.encodeResponse = func(_, _, _, _ []byte, out *Reply) error { out.Body.Array(); return nil }
	if out, isErr := Dispatch(abi.HookEncodeResponse, inEncodeResponse); !isErr || !strings.Contains(string(out), "open containers") {
		t.Fatalf("open body: got %s", out)
	}
	// A non-JSON body written with Raw passes as it is.
	c.encodeResponse = func(_, _, _, _ []byte, out *Reply) error {
		out.ContentType = "text/plain"
		out.Body.RawString("OK")
		return nil
	}
	out, isErr := Dispatch(abi.HookEncodeResponse, inEncodeResponse)
	if isErr {
		t.Fatalf("raw body: %s", out)
	}
	if f, _ := abi.Split(out, nil); string(f[abi.ResponseFieldBody]) != "OK" || string(f[abi.ResponseFieldStatus]) != "200" {
		t.Fatalf("raw body: %q", f)
	}
}

func TestAnswersParse(t *testing.T) {
	var a Answers
	_, err := a.parse([]byte(testAnswers(
		[4]string{"t0", "200", "application/json", `{"id":"1"}`},
		[4]string{"t1", "0", "", `{"code":"timeout","message":"no answer"}`},
	)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 2 || a.At(0).Status != 200 || string(a.At(0).Tag) != "t0" || string(a.At(0).Body) != `{"id":"1"}` {
		t.Fatalf("answer 0: %+v", a.At(0))
	}
	if a.At(0).Transport() != nil {
		t.Fatal("an answered request has no transport error")
	}
	if te := a.At(1).Transport(); te == nil || te.Code != abi.CodeTimeout || te.Message != "no answer" {
		t.Fatalf("answer 1 transport error: %+v", te)
	}
	for _, bad := range []string{
		testAnswers([4]string{"", "2x0", "", ""}),
		testAnswers([4]string{"", "", "", ""}),
		testAnswers([4]string{"", "1000", "", ""}),
		string(abi.AppendField(abi.AppendFrame(nil, 1), testFrame("a", "b"))),
	} {
		if _, err := a.parse([]byte(bad), nil); !errors.Is(err, abi.ErrFrame) {
			t.Errorf("parse(%q) = %v, want ErrFrame", bad, err)
		}
	}
}

func TestMiddleware(t *testing.T) {
	RegisterMiddleware(middlewareFunc(func(opts, batch []byte, out *JSON) error {
		out.Object().KeyValue("v", Get(batch, "v")).KeyValue("tagged", Get(opts, "tag")).End()
		return nil
	}))
	t.Cleanup(func() { codec, middleware = nil, nil })
	if Registered() != abi.KindMiddleware {
		t.Fatalf("Registered() = %v", Registered())
	}
	out, isErr := Dispatch(abi.HookTransform, testFrame(`{"tag":"x"}`, `{"v":1}`))
	if isErr {
		t.Fatalf("%s", out)
	}
	wantSameJSON(t, out, `{"v":1,"tagged":"x"}`)
	if out, isErr := Dispatch(abi.HookDecodeRequest, inDecodeRequest); !isErr || !strings.Contains(string(out), "no codec") {
		t.Fatalf("codec hook on a middleware: %s", out)
	}
}

type middlewareFunc func(opts, batch []byte, out *JSON) error

func (f middlewareFunc) Transform(opts, batch []byte, out *JSON) error { return f(opts, batch, out) }

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[abi.Code]int{
		abi.CodeBadRequest: 400, abi.CodeUnauthorized: 401, abi.CodeForbidden: 403, abi.CodeNotFound: 404,
		abi.CodeTooLarge: 413, abi.CodeUnsupported: 422, abi.CodeRateLimited: 429, abi.CodeBusy: 503,
		abi.CodeTimeout: 504, abi.CodeNotSent: 502, abi.CodeUpstream: 502, abi.CodeInternal: 500, "other": 500,
	} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
}
