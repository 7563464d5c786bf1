package sdktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Outputs are rendered as text before they are compared, so a failure
// shows what a person can read and -update writes what a person can review:
//
//   - JSON outputs (decode_request, decode_response, transform) are
//     pretty-printed;
//   - encode_request's frame is one block per provider request: the request
//     line "POST /path?query", "content-type:" and "tag:" lines, a blank
//     line and the body (pretty-printed when it is JSON), with a line "==="
//     between requests;
//   - encode_response's frame is "status:" and "content-type:" lines, a
//     blank line and the body.
//
// Comparison is semantic where it can be: JSON documents and JSON bodies
// are compared parsed (key order and spacing do not matter, numbers are
// compared as written), everything else as text.

// jsonHook reports whether the hook's output is a JSON document.
func jsonHook(h abi.Hook) bool {
	return h == abi.HookDecodeRequest || h == abi.HookDecodeResponse || h == abi.HookTransform
}

// pretty indents a JSON document, or returns it unchanged if it is not one.
func pretty(s string) string {
	if strings.TrimSpace(s) == "" || !json.Valid([]byte(s)) {
		return s
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(strings.TrimSpace(s)), "", "  "); err != nil {
		return s
	}
	return b.String()
}

// jsonEqual reports whether a and b are the same JSON value; ok is false
// when either is not JSON.
func jsonEqual(a, b string) (equal, ok bool) {
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	if errA != nil || errB != nil {
		return false, false
	}
	return reflect.DeepEqual(va, vb), true
}

func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// bodyEqual compares two bodies: parsed when both are JSON, as text
// otherwise.
func bodyEqual(a, b string) bool {
	if strings.TrimSpace(a) != "" && strings.TrimSpace(b) != "" {
		if eq, ok := jsonEqual(a, b); ok {
			return eq
		}
	}
	return a == b
}

// renderBlock writes a block as case text.
func renderBlock(b block) string {
	var s strings.Builder
	if b.first != "" {
		s.WriteString(b.first)
		s.WriteByte('\n')
	}
	for _, h := range b.headers {
		if h.value == "" {
			continue
		}
		fmt.Fprintf(&s, "%s: %s\n", h.name, headerValue(h.value))
	}
	if b.body != "" {
		s.WriteByte('\n')
		s.WriteString(pretty(b.body))
	}
	return strings.TrimSuffix(s.String(), "\n")
}

func renderBlocks(bs []block) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = renderBlock(b)
	}
	return strings.Join(parts, "\n"+blockSeparator+"\n")
}

// blockEqual compares two blocks: first lines and non-empty headers as
// text, bodies with bodyEqual.
func blockEqual(a, b block) bool {
	if a.first != b.first {
		return false
	}
	ha, hb := headerMap(a), headerMap(b)
	if !reflect.DeepEqual(ha, hb) {
		return false
	}
	return bodyEqual(a.body, b.body)
}

func headerMap(b block) map[string]string {
	m := map[string]string{}
	for _, h := range b.headers {
		if h.value != "" {
			m[h.name] = h.value
		}
	}
	return m
}

// outputBlocks decodes the frame output of encode_request or
// encode_response into blocks.
func outputBlocks(h abi.Hook, out []byte) ([]block, error) {
	if h == abi.HookEncodeResponse {
		f, err := abi.Split(out, nil)
		if err != nil {
			return nil, fmt.Errorf("reply frame: %w", err)
		}
		if len(f) != abi.ResponseFields {
			return nil, fmt.Errorf("reply frame has %d fields, want %d", len(f), abi.ResponseFields)
		}
		return []block{{
			headers: []header{
				{"status", string(f[abi.ResponseFieldStatus])},
				{"content-type", string(f[abi.ResponseFieldContentType])},
			},
			body: string(f[abi.ResponseFieldBody]),
		}}, nil
	}
	reqs, err := abi.Split(out, nil)
	if err != nil {
		return nil, fmt.Errorf("requests frame: %w", err)
	}
	bs := make([]block, 0, len(reqs))
	for i, r := range reqs {
		f, err := abi.Split(r, nil)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		if len(f) != abi.RequestFields {
			return nil, fmt.Errorf("request %d has %d fields, want %d", i, len(f), abi.RequestFields)
		}
		first := string(f[abi.RequestFieldMethod]) + " " + string(f[abi.RequestFieldPath])
		if q := f[abi.RequestFieldQuery]; len(q) > 0 {
			first += "?" + string(q)
		}
		bs = append(bs, block{
			first: first,
			headers: []header{
				{"content-type", string(f[abi.RequestFieldContentType])},
				{"tag", string(f[abi.RequestFieldTag])},
			},
			body: string(f[abi.RequestFieldBody]),
		})
	}
	return bs, nil
}

// wantBlocks parses the want section of encode_request or encode_response.
func wantBlocks(h abi.Hook, want string) ([]block, error) {
	var bs []block
	for i, t := range splitBlocks(want) {
		b, err := parseBlock(t, h == abi.HookEncodeRequest)
		if err != nil {
			return nil, fmt.Errorf("want block %d: %w", i, err)
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// renderOutput renders a hook's output as case text.
func renderOutput(h abi.Hook, out []byte) (string, error) {
	if jsonHook(h) {
		if len(out) > 0 && !json.Valid(out) {
			return "", fmt.Errorf("%s output is not valid JSON: %q", h, out)
		}
		return pretty(string(out)), nil
	}
	bs, err := outputBlocks(h, out)
	if err != nil {
		return "", err
	}
	return renderBlocks(bs), nil
}

// compareOutput compares a hook's output with a want section. It returns
// whether they match and both sides rendered for a diff.
func compareOutput(h abi.Hook, out []byte, want string) (equal bool, got, wantText string, err error) {
	got, err = renderOutput(h, out)
	if err != nil {
		return false, "", "", err
	}
	if jsonHook(h) {
		if strings.TrimSpace(want) == "" || len(out) == 0 {
			return strings.TrimSpace(want) == "" && len(out) == 0, got, want, nil
		}
		eq, ok := jsonEqual(string(out), want)
		if !ok {
			return false, "", "", fmt.Errorf("%w: want is not valid JSON", ErrCase)
		}
		return eq, got, pretty(want), nil
	}
	gb, _ := outputBlocks(h, out)
	wb, err := wantBlocks(h, want)
	if err != nil {
		return false, "", "", err
	}
	equal = len(gb) == len(wb)
	for i := 0; equal && i < len(gb); i++ {
		equal = blockEqual(gb[i], wb[i])
	}
	return equal, got, renderBlocks(wb), nil
}

// renderError renders a guest error as a want-error section.
func renderError(e *abi.GuestError) string {
	b, _ := json.MarshalIndent(e, "", "  ")
	return string(b)
}

// compareError compares a guest error with a want-error section: code and
// field must be equal, and the wanted message must appear in the actual one
// (an empty wanted message matches any).
func compareError(e *abi.GuestError, want string) (equal bool, got, wantText string, err error) {
	var w abi.GuestError
	d := json.NewDecoder(strings.NewReader(want))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return false, "", "", fmt.Errorf("%w: want-error must be a JSON object with code, field and message: %v", ErrCase, err)
	}
	equal = e.Code == w.Code && e.Field == w.Field && strings.Contains(e.Message, w.Message)
	return equal, renderError(e), renderError(&w), nil
}
