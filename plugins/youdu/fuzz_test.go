package main

import (
	"encoding/json"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
)

// seeds returns the value of section name of every golden case under dir.
func seeds(f *testing.F, dir, name string) []string {
	cases, err := sdktest.LoadCases(dir)
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, c := range cases {
		if v, ok := c.Value(name); ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no %s sections under %s", name, dir)
	}
	return out
}

// FuzzDecodeRequest feeds the decoder arbitrary bodies, seeded with the
// golden ones. It must never panic; it returns a canonical batch or a
// bad_request naming the problem, and what it decodes it can encode again:
// a Youdu message always fits Youdu.
func FuzzDecodeRequest(f *testing.F) {
	for _, b := range seeds(f, casesDir+"/decode_request", "body") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, gerr := decode(t, body)
		if gerr != nil {
			if gerr.Code != abi.CodeBadRequest || gerr.Message == "" {
				t.Fatalf("decode error %+v: want bad_request with a message", gerr)
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
	})
}

// FuzzDecodeResponse feeds the response decoder arbitrary answers: every
// covered recipient gets exactly one result, never a panic.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, `{"errcode":0,"errmsg":"ok"}`)
	f.Add(200, `{"errcode":200007,"errmsg":"invalid toUser"}`)
	f.Add(0, `{"code":"timeout","message":"x"}`)
	f.Add(502, `<html>`)
	f.Add(200, `{"errcode":"0"}`)
	batch := `{"v":1,"messages":[{"kind":"text","text":"hi","to":{"users":["a","b"],"departments":["1"],"all":true}}]}`
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 0 || status > 999 {
			return
		}
		answers := abi.AppendFrame(nil, 1)
		var m int
		answers, m = abi.BeginField(answers)
		answers = abi.AppendFrame(answers, abi.ResponseFields)
		answers = abi.AppendFieldString(answers, "0 u0-2 d0-1 a")
		answers = abi.AppendFieldString(answers, itoa(status))
		answers = abi.AppendFieldString(answers, "application/json")
		answers = abi.AppendFieldString(answers, body)
		answers = abi.EndField(answers, m)
		out, gerr := call(t, abi.HookDecodeResponse, "{}", batch, string(answers))
		if gerr != nil {
			t.Fatalf("decode response failed: %v", gerr)
		}
		var res struct {
			Results []struct {
				OK   bool   `json:"ok"`
				Code string `json:"code"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 4 {
			t.Fatalf("results %s: %v, want 4 entries", out, err)
		}
		for _, r := range res.Results {
			if r.OK != (status == 200 && res.Results[0].OK) || !r.OK && r.Code == "" {
				t.Fatalf("inconsistent results %s", out)
			}
		}
	})
}
