package sdk

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Request is the client's HTTP request as HookDecodeRequest receives it.
// Every slice is a view valid only during the call.
type Request struct {
	Options     []byte // the route's options for this plugin (JSON, `{}` if none)
	Method      []byte
	Path        []byte // raw, still percent-encoded
	Query       []byte // raw, without '?'
	ContentType []byte
	Body        []byte // decrypted by the host for enveloped dialects
}

// Requests collects the provider requests HookEncodeRequest returns.
//
//	body := out.Begin("POST", path, "", "application/json")
//	body.Object().Key("msg").String(text).End()
//	out.End(tag)
type Requests struct {
	buf   []byte
	n     int
	mark  int // start of the current request's frame field
	body  int // start of the current body field
	json  JSON
	inReq bool
	// misuse is set by a call out of order (Add inside Begin/End, End
	// without Begin, an unclosed body); the hook then fails.
	misuse bool
}

// reset empties the list and reserves the output frame's count, which frame
// fills in, so the frame is returned without a copy.
func (r *Requests) reset() {
	r.buf, r.n, r.inReq, r.misuse = abi.AppendFrame(r.buf[:0], 0), 0, false, false
}

// Len returns the number of requests added so far.
func (r *Requests) Len() int { return r.n }

// Add appends a complete provider request. tag is handed back with its
// answer (see abi.RequestFieldTag). Calling Add between Begin and End is a
// bug the SDK reports as a hook error.
func (r *Requests) Add(method, path, query, contentType string, body, tag []byte) {
	if r.inReq {
		r.misuse = true
		return
	}
	var m int
	r.buf, m = abi.BeginField(r.buf)
	r.buf = abi.AppendFrame(r.buf, abi.RequestFields)
	r.buf = abi.AppendFieldString(r.buf, method)
	r.buf = abi.AppendFieldString(r.buf, path)
	r.buf = abi.AppendFieldString(r.buf, query)
	r.buf = abi.AppendFieldString(r.buf, contentType)
	r.buf = abi.AppendField(r.buf, body)
	r.buf = abi.AppendField(r.buf, tag)
	r.buf = abi.EndField(r.buf, m)
	r.n++
}

// Begin starts a request whose body is built in place with the returned
// builder; finish it with End. path and query are used as given (already
// escaped).
func (r *Requests) Begin(method, path, query, contentType string) *JSON {
	if r.inReq {
		// Begin twice: finish the first request so the frame stays sound,
		// and report the bug when the hook returns.
		r.misuse = true
		r.End(nil)
	}
	r.buf, r.mark = abi.BeginField(r.buf)
	r.buf = abi.AppendFrame(r.buf, abi.RequestFields)
	r.buf = abi.AppendFieldString(r.buf, method)
	r.buf = abi.AppendFieldString(r.buf, path)
	r.buf = abi.AppendFieldString(r.buf, query)
	r.buf = abi.AppendFieldString(r.buf, contentType)
	r.buf, r.body = abi.BeginField(r.buf)
	r.json.Reset()
	r.json.buf = r.buf
	r.inReq = true
	return &r.json
}

// End finishes the request begun with Begin. A body left with open
// containers, or End without Begin, is a bug the SDK reports as a hook
// error.
func (r *Requests) End(tag []byte) {
	if !r.inReq {
		r.misuse = true
		return
	}
	if !r.json.complete() {
		r.misuse = true
	}
	r.buf = abi.EndField(r.json.buf, r.body)
	r.buf = abi.AppendField(r.buf, tag)
	r.buf = abi.EndField(r.buf, r.mark)
	r.json.buf = nil
	r.inReq = false
	r.n++
}

// frame returns the output frame: the request count and the requests.
func (r *Requests) frame() []byte {
	binary.LittleEndian.PutUint32(r.buf, uint32(r.n))
	return r.buf
}

// Answer is one provider answer, in the order the requests were encoded.
type Answer struct {
	Tag         []byte
	Status      int // 0: no answer; Body is then an abi.GuestError document
	ContentType []byte
	Body        []byte
}

// Transport returns the transport failure of an answer with Status 0.
func (a *Answer) Transport() *abi.GuestError {
	if a.Status != 0 {
		return nil
	}
	return abi.ParseGuestError(a.Body)
}

// Answers iterates the provider answers of HookDecodeResponse.
type Answers struct {
	list []Answer
}

// Len returns the number of answers.
func (a *Answers) Len() int { return len(a.list) }

// At returns answer i.
func (a *Answers) At(i int) *Answer { return &a.list[i] }

func (a *Answers) parse(frame []byte, scratch [][]byte) ([][]byte, error) {
	a.list = a.list[:0]
	var err error
	scratch, err = abi.Split(frame, scratch[:0])
	if err != nil {
		return scratch, err
	}
	for i, resp := range scratch {
		var fields [abi.ResponseFields + 1][]byte
		f, err := abi.Split(resp, fields[:0])
		if err != nil {
			return scratch, fmt.Errorf("answer %d: %w", i, err)
		}
		if len(f) != abi.ResponseFields {
			return scratch, fmt.Errorf("answer %d: %w: %d fields, want %d", i, abi.ErrFrame, len(f), abi.ResponseFields)
		}
		status, ok := parseStatus(f[abi.ResponseFieldStatus])
		if !ok {
			return scratch, fmt.Errorf("answer %d: %w: status %q", i, abi.ErrFrame, f[abi.ResponseFieldStatus])
		}
		a.list = append(a.list, Answer{
			Tag:         f[abi.ResponseFieldTag],
			Status:      status,
			ContentType: f[abi.ResponseFieldContentType],
			Body:        f[abi.ResponseFieldBody],
		})
	}
	return scratch, nil
}

// parseStatus reads a decimal HTTP status (0..999) without allocating.
func parseStatus(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Reply is the client's HTTP answer HookEncodeResponse returns.
type Reply struct {
	Status      int
	ContentType string
	// Body is the answer's body builder; use Body.Raw for non-JSON bodies.
	Body JSON
}

func (r *Reply) reset() {
	r.Status, r.ContentType = 200, "application/json;charset=UTF-8"
	r.Body.Reset()
}

func (r *Reply) frame(dst []byte) []byte {
	dst = abi.AppendFrame(dst, abi.ResponseFields)
	dst = abi.AppendField(dst, nil)
	var m int
	dst, m = abi.BeginField(dst)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = abi.EndField(dst, m)
	dst = abi.AppendFieldString(dst, r.ContentType)
	return abi.AppendField(dst, r.Body.buf)
}
