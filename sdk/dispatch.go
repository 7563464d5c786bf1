package sdk

import (
	"github.com/imrelay/imrelay/sdk/abi"
)

// state is the SDK's reusable per-instance scratch: one guest instance runs
// one call at a time, so a single set of buffers serves every hook.
type state struct {
	fields  [][]byte
	scratch [][]byte
	req     Request
	json    JSON
	reqs    Requests
	answers Answers
	reply   Reply
	out     []byte
}

var st state

// Dispatch runs hook on input and returns the output bytes, or an error
// document with isErr set. It is what the wasm exports call, and what
// sdk/sdktest calls natively. The returned slice is valid until the next call.
//
// A hook that panics, leaves a JSON container open or misuses Requests
// returns a CodeInternal error naming the problem instead of a broken
// document, natively and in wasm alike.
func Dispatch(hook abi.Hook, input []byte) (out []byte, isErr bool) {
	out, err := st.run(hook, input)
	if err != nil {
		ge := asGuestError(err)
		st.out = ge.AppendJSON(st.out[:0])
		return st.out, true
	}
	return out, false
}

// run is dispatch with a plugin panic turned into an error.
func (s *state) run(hook abi.Hook, input []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, Error(abi.CodeInternal, "", "sdk: %s panicked: %v", hook, p)
		}
	}()
	return s.dispatch(hook, input)
}

func (s *state) dispatch(hook abi.Hook, input []byte) ([]byte, error) {
	var err error
	s.fields, err = abi.Split(input, s.fields[:0])
	if err != nil {
		return nil, Error(abi.CodeInternal, "", "sdk: %s input: %v", hook, err)
	}
	f := s.fields
	switch hook {
	case abi.HookDecodeRequest, abi.HookEncodeRequest, abi.HookDecodeResponse, abi.HookEncodeResponse:
		if codec == nil {
			return nil, Error(abi.CodeInternal, "", "sdk: %s called on a plugin with no codec", hook)
		}
	case abi.HookTransform:
		if middleware == nil {
			return nil, Error(abi.CodeInternal, "", "sdk: %s called on a plugin with no middleware", hook)
		}
	default:
		return nil, Error(abi.CodeInternal, "", "sdk: unknown hook %d", hook)
	}
	if len(f) < minFields(hook) {
		return nil, Error(abi.CodeInternal, "", "sdk: %s input has %d fields, want %d", hook, len(f), minFields(hook))
	}
	switch hook {
	case abi.HookDecodeRequest:
		s.req = Request{
			Options: f[abi.FieldOptions], Method: f[abi.FieldMethod], Path: f[abi.FieldPath],
			Query: f[abi.FieldQuery], ContentType: f[abi.FieldContentType], Body: f[abi.FieldBody],
		}
		s.json.Reset()
		if err := codec.DecodeRequest(&s.req, &s.json); err != nil {
			return nil, err
		}
		return s.document(hook)
	case abi.HookEncodeRequest:
		s.reqs.reset()
		if err := codec.EncodeRequest(f[abi.FieldOptions], f[abi.FieldBatch], &s.reqs); err != nil {
			return nil, err
		}
		if s.reqs.inReq || s.reqs.misuse {
			return nil, Error(abi.CodeInternal, "", "sdk: %s: Requests used out of order (Begin without End, Add inside Begin/End, or a body left open)", hook)
		}
		return s.reqs.frame(), nil
	case abi.HookDecodeResponse:
		s.scratch, err = s.answers.parse(f[abi.FieldResponses], s.scratch)
		if err != nil {
			return nil, Error(abi.CodeInternal, "", "sdk: %s answers: %v", hook, err)
		}
		s.json.Reset()
		if err := codec.DecodeResponse(f[abi.FieldOptions], f[abi.FieldBatch], &s.answers, &s.json); err != nil {
			return nil, err
		}
		return s.document(hook)
	case abi.HookEncodeResponse:
		s.reply.reset()
		if err := codec.EncodeResponse(f[abi.FieldOptions], f[abi.FieldBatch], f[abi.FieldResults], f[abi.FieldClientBody], &s.reply); err != nil {
			return nil, err
		}
		if s.reply.Status < 100 || s.reply.Status > 999 {
			return nil, Error(abi.CodeInternal, "", "sdk: %s: reply status %d is not an HTTP status", hook, s.reply.Status)
		}
		if !s.reply.Body.complete() {
			return nil, Error(abi.CodeInternal, "", "sdk: %s: reply body left with %d open containers", hook, s.reply.Body.depth)
		}
		s.out = s.reply.frame(s.out[:0])
		return s.out, nil
	default: // abi.HookTransform
		s.json.Reset()
		if err := middleware.Transform(f[abi.FieldOptions], f[abi.FieldBatch], &s.json); err != nil {
			return nil, err
		}
		return s.document(hook)
	}
}

// document returns the JSON output of a hook, refusing an unfinished one.
func (s *state) document(hook abi.Hook) ([]byte, error) {
	if !s.json.complete() {
		return nil, Error(abi.CodeInternal, "", "sdk: %s: output left with %d open containers", hook, s.json.depth)
	}
	return s.json.buf, nil
}

func minFields(h abi.Hook) int {
	switch h {
	case abi.HookDecodeRequest:
		return abi.FieldBody + 1
	case abi.HookEncodeRequest, abi.HookTransform:
		return abi.FieldBatch + 1
	case abi.HookDecodeResponse:
		return abi.FieldResponses + 1
	case abi.HookEncodeResponse:
		return abi.FieldClientBody + 1
	}
	return 0
}
