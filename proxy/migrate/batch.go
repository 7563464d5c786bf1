package migrate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Part is one leg's share of a batch.
type Part struct {
	// Batch is the sub-batch: {"v":1,"vendor":<the original's, if
	// any>,"messages":[...]}; nil when the leg got no recipient.
	Batch []byte
	// Index[j] is the original index of the sub-batch's message j.
	Index []int
	// N is the number of recipients assigned to the leg.
	N int
}

// recipientLists are the canonical recipient lists in walk order, with the
// to_type of their entries; the whole organisation ("all": true) follows.
var recipientLists = [...]struct{ key, typ string }{
	{"users", "user"},
	{"groups", "group"},
	{"rooms", "room"},
	{"departments", "department"},
	{"emails", "email"},
}

// toTypeAll is the to_type of the whole-organisation recipient.
const toTypeAll = "all"

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// isID reports whether a list element is a recipient the walk visits:
// empty and non-string ids are skipped.
func isID(v gjson.Result) bool { return v.Type == gjson.String && v.Str != "" }

// recipients is the "to" object of a message, read once: the recipient
// lists in walk order and the whole-organisation flag.
type recipients struct {
	to    gjson.Result // the "to" object; Index is relative to the message
	lists [len(recipientLists)]gjson.Result
	all   bool
}

// readRecipients reads the "to" object of msg in one pass. As with
// gjson's Get, the first of duplicate keys wins.
func readRecipients(msg gjson.Result) recipients {
	r := recipients{to: gjson.Get(msg.Raw, "to")}
	if !r.to.IsObject() {
		return recipients{}
	}
	var seen [len(recipientLists) + 1]bool
	r.to.ForEach(func(k, v gjson.Result) bool {
		i := -1
		switch k.Str {
		case "users":
			i = 0
		case "groups":
			i = 1
		case "rooms":
			i = 2
		case "departments":
			i = 3
		case "emails":
			i = 4
		case "all":
			if !seen[len(recipientLists)] {
				seen[len(recipientLists)] = true
				r.all = v.Type == gjson.True
			}
			return true
		}
		if i >= 0 && !seen[i] {
			seen[i] = true
			r.lists[i] = v
		}
		return true
	})
	return r
}

// each calls fn for every recipient in the canonical walk order (users,
// groups, rooms, departments, emails, then all), with raw the id as a
// JSON string (`""` for all). It stops when fn returns false.
func (r *recipients) each(fn func(toType, id, raw string) bool) {
	for i, l := range recipientLists {
		list := r.lists[i]
		if !list.IsArray() {
			continue
		}
		stop := false
		list.ForEach(func(_, v gjson.Result) bool {
			if !isID(v) {
				return true
			}
			stop = !fn(l.typ, v.Str, v.Raw)
			return !stop
		})
		if stop {
			return
		}
	}
	if r.all {
		fn(toTypeAll, "", `""`)
	}
}

// eachRecipient calls fn for every recipient of msg in walk order (see
// recipients.each).
func eachRecipient(msg gjson.Result, fn func(toType, id, raw string) bool) {
	r := readRecipients(msg)
	r.each(fn)
}

// appendHeader opens a batch: {"v":1,"vendor":...,"messages":[.
func appendHeader(dst []byte, vendor gjson.Result) []byte {
	dst = append(dst, `{"v":1,`...)
	if vendor.Exists() {
		dst = append(dst, `"vendor":`...)
		dst = append(dst, vendor.Raw...)
		dst = append(dst, ',')
	}
	return append(dst, `"messages":[`...)
}

// Partition splits batch between legs. assign is called once per (message,
// recipient), in message order then recipient walk order, with the
// message's index, the message, and the recipient; it returns the leg
// (0..legs-1). m and id view batch and are valid only during the call.
//
// Each message appears in the part of every leg that got at least one of
// its recipients, byte-identical except that its "to" object holds only
// that leg's recipients: the same list keys, in walk order, each with the
// leg's ids (possibly none), and "all": true when the whole organisation
// went to the leg. A message without recipients is in no part.
//
// parts is reused (the capacity of its slices kept) to limit allocation;
// the result has len == legs, and a leg that got no recipient has a nil
// Batch. A batch that is not valid JSON or has no "messages" array, or an
// assign that returns a leg out of range, is an error.
func Partition(batch []byte, legs int, assign func(msg int, m gjson.Result, toType, id string) int, parts []Part) ([]Part, error) {
	if legs < 1 {
		return parts[:0], fmt.Errorf("migrate: partition into %d legs", legs)
	}
	doc := unsafeString(batch)
	if !gjson.Valid(doc) {
		return parts[:0], errors.New("migrate: partition: the batch is not valid JSON")
	}
	msgs := gjson.Get(doc, "messages")
	if !msgs.IsArray() {
		return parts[:0], errors.New(`migrate: partition: the batch has no "messages" array`)
	}
	vendor := gjson.Get(doc, "vendor")
	if cap(parts) < legs {
		parts = append(parts[:cap(parts)], make([]Part, legs-cap(parts))...)
	}
	parts = parts[:legs]
	for i := range parts {
		p := &parts[i]
		p.Batch, p.Index, p.N = p.Batch[:0], p.Index[:0], 0
	}

	var legBuf [64]int
	legOf := legBuf[:0] // the leg of each recipient of the message, in walk order
	var countBuf [8]int
	counts := countBuf[:0] // recipients of the message per leg
	if legs <= len(countBuf) {
		counts = countBuf[:legs]
	} else {
		counts = make([]int, legs)
	}
	var err error
	msg := 0
	msgs.ForEach(func(_, m gjson.Result) bool {
		legOf = legOf[:0]
		clear(counts)
		rs := readRecipients(m)
		rs.each(func(toType, id, _ string) bool {
			l := assign(msg, m, toType, id)
			if l < 0 || l >= legs {
				err = fmt.Errorf("migrate: partition: message %d, %s %q: leg %d is outside 0..%d", msg, toType, id, l, legs-1)
				return false
			}
			legOf = append(legOf, l)
			counts[l]++
			return true
		})
		if err != nil {
			return false
		}
		if len(legOf) > 0 {
			to := rs.to
			if to.Index <= 0 || to.Index+len(to.Raw) > len(m.Raw) || m.Raw[to.Index:to.Index+len(to.Raw)] != to.Raw {
				err = fmt.Errorf("migrate: partition: message %d: cannot locate its \"to\" object", msg)
				return false
			}
			for l, n := range counts {
				if n == 0 {
					continue
				}
				p := &parts[l]
				if len(p.Index) == 0 {
					p.Batch = appendHeader(p.Batch, vendor)
				} else {
					p.Batch = append(p.Batch, ',')
				}
				p.Batch = append(p.Batch, m.Raw[:to.Index]...)
				p.Batch = appendTo(p.Batch, &rs, legOf, l)
				p.Batch = append(p.Batch, m.Raw[to.Index+len(to.Raw):]...)
				p.Index = append(p.Index, msg)
				p.N += n
			}
		}
		msg++
		return true
	})
	if err != nil {
		for i := range parts {
			parts[i].Batch, parts[i].Index, parts[i].N = nil, parts[i].Index[:0], 0
		}
		return parts, err
	}
	for i := range parts {
		p := &parts[i]
		if p.N == 0 {
			p.Batch = nil
			continue
		}
		p.Batch = append(p.Batch, "]}"...)
	}
	return parts, nil
}

// appendTo writes the "to" object of one leg: the recipients of rs whose
// entry in legOf (indexed in walk order) is leg, under the same list keys.
func appendTo(dst []byte, rs *recipients, legOf []int, leg int) []byte {
	dst = append(dst, '{')
	k := 0 // walk position
	first := true
	for i, l := range recipientLists {
		list := rs.lists[i]
		if !list.IsArray() {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, l.key...)
		dst = append(dst, `":[`...)
		n := 0
		list.ForEach(func(_, v gjson.Result) bool {
			if !isID(v) {
				return true
			}
			if legOf[k] == leg {
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, v.Raw...)
				n++
			}
			k++
			return true
		})
		dst = append(dst, ']')
	}
	if rs.all && k < len(legOf) && legOf[k] == leg {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"all":true`...)
	}
	return append(dst, '}')
}

// mergeEntry is one result entry written to the merge scratch buffer.
type mergeEntry struct{ orig, start, end int }

// mergeScratch holds Merge's working memory between calls.
type mergeScratch struct {
	buf  []byte
	ents []mergeEntry
}

var mergePool = sync.Pool{New: func() any { return new(mergeScratch) }}

// maxPooledScratch bounds the buffer a mergeScratch keeps for the next
// Merge, so that one huge batch does not pin its memory.
const maxPooledScratch = 1 << 20

// release returns sc to the pool unless it grew too large to keep.
func (sc *mergeScratch) release() {
	if cap(sc.buf) > maxPooledScratch || cap(sc.ents) > maxPooledScratch/64 {
		return
	}
	mergePool.Put(sc)
}

// invalidResults is the request-level error Merge reports for a part whose
// results document is not valid JSON.
const invalidResults = `{"code":"internal","message":"the provider's results document is not valid JSON"}`

// readResults reads the top level of a results document in one pass:
// its "error" (when present and not null) and its "results". The first of
// duplicate keys wins.
func readResults(doc string) (e, results gjson.Result) {
	var seenErr, seenRes bool
	gjson.Parse(doc).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "error":
			if !seenErr {
				seenErr = true
				if v.Type != gjson.Null {
					e = v
				}
			}
		case "results":
			if !seenRes {
				seenRes, results = true, v
			}
		}
		return !seenErr || !seenRes
	})
	return e, results
}

// partError returns the request-level error e of a results document doc:
// failed is false when there is none; code and msg are JSON strings, obj
// the error object's raw JSON ("" when the error is not an object). A doc
// that is not valid JSON (valid false) is an internal error.
func partError(e gjson.Result, valid bool) (code, msg, obj string, failed bool) {
	if !valid {
		return `"internal"`, `"the provider's results document is not valid JSON"`, invalidResults, true
	}
	if !e.Exists() {
		return "", "", "", false
	}
	code, msg = `"internal"`, `""`
	if !e.IsObject() {
		if e.Type == gjson.String {
			msg = e.Raw
		}
		return code, msg, "", true
	}
	if c := e.Get("code"); isID(c) {
		code = c.Raw
	}
	if m := e.Get("message"); m.Type == gjson.String {
		msg = m.Raw
	}
	return code, msg, e.Raw, true
}

// Merge appends to dst one results document for the original batch, made
// of the per-leg results: results[i] is the results document of parts[i]
// (ignored when parts[i].Batch is nil). Entries keep all their fields, with
// "message" rewritten to the original index; an entry without a numeric
// "message" naming a message of its part is dropped.
//
// A part whose document has a request-level "error", or is not valid JSON,
// contributes for every recipient of its sub-batch an entry
// {"message":orig,"to":id,"to_type":t,"ok":false,"code":<error.code, or
// "internal">,"error":<error.message>}. When every used part has a
// request-level error, the output is instead {"v":1,"error":<the first
// such error object>,"results":[]}, so the client gets the error in its
// usual shape.
//
// Entries are ordered by original message index; within one message, by
// part, then as they came in the part. The output starts
// {"v":1,"results":[.
func Merge(dst []byte, parts []Part, results [][]byte) []byte {
	sc := mergePool.Get().(*mergeScratch)
	defer sc.release()
	sc.buf, sc.ents = sc.buf[:0], sc.ents[:0]

	used, failed, firstFailed := 0, 0, -1
	for i := range parts {
		p := &parts[i]
		if p.Batch == nil {
			continue
		}
		used++
		var doc string
		if i < len(results) {
			doc = unsafeString(results[i])
		}
		valid := gjson.Valid(doc)
		var e, res gjson.Result
		if valid {
			e, res = readResults(doc)
		}
		if code, msg, _, bad := partError(e, valid); bad {
			failed++
			if firstFailed < 0 {
				firstFailed = i
			}
			sc.addFailed(p, code, msg)
			continue
		}
		if !res.IsArray() {
			continue
		}
		res.ForEach(func(_, r gjson.Result) bool {
			mv := gjson.Get(r.Raw, "message")
			if mv.Type != gjson.Number || mv.Index <= 0 || mv.Index+len(mv.Raw) > len(r.Raw) || r.Raw[mv.Index:mv.Index+len(mv.Raw)] != mv.Raw {
				return true
			}
			j := mv.Int()
			if float64(j) != mv.Num || j < 0 || j >= int64(len(p.Index)) {
				return true
			}
			orig := p.Index[j]
			start := len(sc.buf)
			sc.buf = append(sc.buf, r.Raw[:mv.Index]...)
			sc.buf = strconv.AppendInt(sc.buf, int64(orig), 10)
			sc.buf = append(sc.buf, r.Raw[mv.Index+len(mv.Raw):]...)
			sc.ents = append(sc.ents, mergeEntry{orig, start, len(sc.buf)})
			return true
		})
	}

	if used > 0 && failed == used {
		var doc string
		if firstFailed < len(results) {
			doc = unsafeString(results[firstFailed])
		}
		valid := gjson.Valid(doc)
		var e gjson.Result
		if valid {
			e, _ = readResults(doc)
		}
		code, msg, obj, _ := partError(e, valid)
		dst = append(dst, `{"v":1,"error":`...)
		if obj != "" {
			dst = append(dst, obj...)
		} else {
			dst = append(dst, `{"code":`...)
			dst = append(dst, code...)
			dst = append(dst, `,"message":`...)
			dst = append(dst, msg...)
			dst = append(dst, '}')
		}
		return append(dst, `,"results":[]}`...)
	}

	slices.SortStableFunc(sc.ents, func(a, b mergeEntry) int { return cmp.Compare(a.orig, b.orig) })
	dst = append(dst, `{"v":1,"results":[`...)
	for k, e := range sc.ents {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, sc.buf[e.start:e.end]...)
	}
	return append(dst, "]}"...)
}

// addFailed writes a failed entry for every recipient of p's sub-batch;
// code and msg are JSON strings.
func (sc *mergeScratch) addFailed(p *Part, code, msg string) {
	j := 0
	gjson.Get(unsafeString(p.Batch), "messages").ForEach(func(_, m gjson.Result) bool {
		if j >= len(p.Index) {
			return false
		}
		orig := p.Index[j]
		j++
		eachRecipient(m, func(toType, _, raw string) bool {
			start := len(sc.buf)
			sc.buf = append(sc.buf, `{"message":`...)
			sc.buf = strconv.AppendInt(sc.buf, int64(orig), 10)
			sc.buf = append(sc.buf, `,"to":`...)
			sc.buf = append(sc.buf, raw...)
			sc.buf = append(sc.buf, `,"to_type":"`...)
			sc.buf = append(sc.buf, toType...)
			sc.buf = append(sc.buf, `","ok":false,"code":`...)
			sc.buf = append(sc.buf, code...)
			sc.buf = append(sc.buf, `,"error":`...)
			sc.buf = append(sc.buf, msg...)
			sc.buf = append(sc.buf, '}')
			sc.ents = append(sc.ents, mergeEntry{orig, start, len(sc.buf)})
			return true
		})
		return true
	})
}

// Single appends to dst a batch holding only message i of batch, with the
// original "vendor", if any. ok is false, and dst returned as it was, when
// batch is not a valid batch or has no message i.
func Single(dst, batch []byte, i int) ([]byte, bool) {
	doc := unsafeString(batch)
	if i < 0 || !gjson.Valid(doc) {
		return dst, false
	}
	var msg gjson.Result
	n := 0
	gjson.Get(doc, "messages").ForEach(func(_, m gjson.Result) bool {
		if n == i {
			msg = m
			return false
		}
		n++
		return true
	})
	if !msg.Exists() {
		return dst, false
	}
	dst = appendHeader(dst, gjson.Get(doc, "vendor"))
	dst = append(dst, msg.Raw...)
	return append(dst, "]}"...), true
}

// Kinds appends to dst the "kind" of every message of batch, in order (""
// when missing or not a string). The strings do not refer to batch.
func Kinds(batch []byte, dst []string) []string {
	gjson.Get(unsafeString(batch), "messages").ForEach(func(_, m gjson.Result) bool {
		k := m.Get("kind")
		if k.Type != gjson.String {
			dst = append(dst, "")
			return true
		}
		dst = append(dst, intern(k.Str))
		return true
	})
	return dst
}

// codeMissing is the code Compare reports for a recipient a side has no
// entry for.
const codeMissing = "missing"

// known are the strings intern returns without allocating: the canonical
// kinds and error codes.
var known = [...]string{
	"text", "image", "audio", "video", "file", "location", "command", "custom",
	"news", "link", "template", "system", "sms", "mail", "tip", "extension",
	string(abi.CodeBadRequest), string(abi.CodeUnauthorized), string(abi.CodeForbidden),
	string(abi.CodeNotFound), string(abi.CodeTooLarge), string(abi.CodeUnsupported),
	string(abi.CodeRateLimited), string(abi.CodeBusy), string(abi.CodeTimeout),
	string(abi.CodeNotSent), string(abi.CodeUpstream), string(abi.CodeInternal),
	codeMissing,
}

// intern returns s as a string that owns its bytes: a shared constant for
// a canonical kind or code, else a copy.
func intern(s string) string {
	for _, k := range known {
		if k == s {
			return k
		}
	}
	return strings.Clone(s)
}

// outcome is one side's answer for one recipient.
type outcome struct {
	ok   bool
	code string // when not ok; views the side's document
}

// outcomeKey names a recipient of a message; to is "" for all.
type outcomeKey struct {
	msg    int
	toType string
	to     string
}

// side is one results document read for Compare.
type side struct {
	entries map[outcomeKey]outcome
	reqCode string // request-level error code, "" when none
}

func readSide(doc []byte) side {
	s := unsafeString(doc)
	if !gjson.Valid(s) {
		return side{reqCode: string(abi.CodeInternal)}
	}
	var sd side
	e, results := readResults(s)
	if e.Exists() {
		sd.reqCode = string(abi.CodeInternal)
		if c := e.Get("code"); isID(c) {
			sd.reqCode = c.Str
		}
	}
	sd.entries = map[outcomeKey]outcome{}
	results.ForEach(func(_, r gjson.Result) bool {
		mv := r.Get("message")
		if mv.Type != gjson.Number {
			return true
		}
		k := outcomeKey{msg: int(mv.Int()), toType: r.Get("to_type").Str, to: r.Get("to").Str}
		if k.toType == toTypeAll {
			k.to = ""
		}
		o := outcome{ok: r.Get("ok").Type == gjson.True}
		if !o.ok {
			o.code = r.Get("code").Str
			if o.code == "" {
				o.code = string(abi.CodeInternal)
			}
		}
		if prev, seen := sd.entries[k]; !seen || (!prev.ok && o.ok) {
			sd.entries[k] = o
		}
		return true
	})
	return sd
}

// outcome returns the side's answer for recipient k.
func (sd *side) outcome(k outcomeKey) (bool, string) {
	if o, ok := sd.entries[k]; ok {
		if o.ok {
			return true, ""
		}
		return false, intern(o.code)
	}
	if sd.reqCode != "" {
		return false, intern(sd.reqCode)
	}
	return false, codeMissing
}

// Compare walks every (message, recipient) of batch, in walk order, and
// calls fn with its outcome in two results documents for that batch: the
// primary's and the mirror's. A side is ok when it has an entry for
// (message, to_type, to) with "ok": true (any of several); otherwise its
// code is that entry's "code" ("internal" when it has none), or the side's
// request-level error code when it has no entry ("internal" for a document
// that is not valid JSON), or "missing". An entry with to_type "all"
// matches the whole-organisation recipient whatever its "to". kind is the
// message's "kind". The strings given to fn do not refer to the
// documents, so fn may keep them.
func Compare(batch, primary, mirror []byte, fn func(msg int, kind string, pOK bool, pCode string, mOK bool, mCode string)) {
	doc := unsafeString(batch)
	if !gjson.Valid(doc) {
		return
	}
	p, m := readSide(primary), readSide(mirror)
	i := 0
	gjson.Get(doc, "messages").ForEach(func(_, msg gjson.Result) bool {
		kind := ""
		if k := msg.Get("kind"); k.Type == gjson.String {
			kind = intern(k.Str)
		}
		eachRecipient(msg, func(toType, id, _ string) bool {
			k := outcomeKey{msg: i, toType: toType, to: id}
			pOK, pCode := p.outcome(k)
			mOK, mCode := m.outcome(k)
			fn(i, kind, pOK, pCode, mOK, mCode)
			return true
		})
		i++
		return true
	})
}
