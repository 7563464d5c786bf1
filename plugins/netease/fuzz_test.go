package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
)

// FuzzDecodeRequest feeds the decoder arbitrary paths and bodies, seeded
// with the golden ones. It must never panic; it returns a canonical batch,
// a bad_request naming the problem or not_found for a path that is no
// message API, and what it decodes it can encode again with api v2.
func FuzzDecodeRequest(f *testing.F) {
	cases, err := sdktest.LoadCases(casesDir + "/decode_request")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		path, _ := c.Value("path")
		body, _ := c.Value("body")
		f.Add(path, body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		out, gerr := call(t, abi.HookDecodeRequest, "{}", "POST", path, "", "", body)
		if gerr != nil {
			if gerr.Code != abi.CodeBadRequest && gerr.Code != abi.CodeNotFound || gerr.Message == "" {
				t.Fatalf("decode error %+v: want bad_request or not_found with a message", gerr)
			}
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("decode output is not JSON: %s", out)
		}
		frame, gerr := call(t, abi.HookEncodeRequest, "{}", out)
		if gerr != nil {
			t.Fatalf("a decoded batch does not encode: %v\nbatch: %s", gerr, out)
		}
		for _, r := range requests(t, frame) {
			if !json.Valid(r[abi.RequestFieldBody]) {
				t.Fatalf("request body is not JSON: %s", r[abi.RequestFieldBody])
			}
		}
		if _, gerr := call(t, abi.HookEncodeRequest, `{"api":"v1"}`, out); gerr != nil && gerr.Code != abi.CodeUnsupported {
			t.Fatalf("a decoded batch does not encode with api v1: %v\nbatch: %s", gerr, out)
		}
	})
}

// FuzzDecodeResponse feeds the response decoder arbitrary answers to a
// batch call: each receiver gets exactly one result, never a panic.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, `{"code":200,"msg":"success","data":{"success_list":[{"receiver_id":"a","message_server_id":1}],"failed_list":[{"receiver_id":"b","error_code":404}]}}`)
	f.Add(200, `{"code":200,"unregister":"[\"b\"]","msgids":{"a":1}}`)
	f.Add(200, `{"code":416,"msg":"x"}`)
	f.Add(0, `{"code":"timeout","message":"x"}`)
	batch := `{"v":1,"messages":[{"kind":"text","from":"s","text":"hi","to":{"users":["a","b","c"]}}]}`
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 0 || status > 999 {
			return
		}
		for _, tag := range []string{"2b 0 u0-3", "1b 0 u0-3"} {
			answers := answer(abi.AppendFrame(nil, 1), []byte(tag), strconv.Itoa(status), body)
			out, gerr := call(t, abi.HookDecodeResponse, "{}", batch, string(answers))
			if gerr != nil {
				t.Fatalf("decode response failed: %v", gerr)
			}
			var res struct {
				Results []struct {
					To   string `json:"to"`
					OK   bool   `json:"ok"`
					Code string `json:"code"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 3 {
				t.Fatalf("%s: results %s: %v, want 3 entries", tag, out, err)
			}
			seen := map[string]bool{}
			for _, r := range res.Results {
				if seen[r.To] || r.OK && status != 200 || !r.OK && r.Code == "" {
					t.Fatalf("%s: inconsistent results %s", tag, out)
				}
				seen[r.To] = true
			}
		}
	})
}
