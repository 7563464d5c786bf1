// Package xlate is the JSON translation the host measures in wasm and
// natively: a 1 KB NetEase-style send request becomes an Easemob-style one.
// Reading is gjson in place; writing appends to a reused buffer, the way the
// SDK's builder does. The same function runs in the xlate fixture module and
// in the host's native baseline benchmark.
package xlate

import (
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Translate appends the translation of src to dst.
func Translate(dst, src []byte) []byte {
	// Parse views src as a string: ParseBytes would copy it.
	r := gjson.Parse(unsafe.String(unsafe.SliceData(src), len(src)))
	dst = append(dst, `{"from":`...)
	dst = abi.AppendJSONString(dst, r.Get("from").String())
	dst = append(dst, `,"to":[`...)
	i := 0
	r.Get("to").ForEach(func(_, u gjson.Result) bool {
		if i > 0 {
			dst = append(dst, ',')
		}
		i++
		dst = abi.AppendJSONString(dst, u.String())
		return true
	})
	dst = append(dst, `],"type":`...)
	switch r.Get("type").Int() {
	case 0:
		dst = append(dst, `"txt"`...)
	case 1:
		dst = append(dst, `"img"`...)
	default:
		dst = append(dst, `"custom"`...)
	}
	body := r.Get("body")
	dst = append(dst, `,"body":{"msg":`...)
	dst = abi.AppendJSONString(dst, body.Get("msg").String())
	dst = append(dst, `},"ext":{`...)
	n := 0
	r.Get("ext").ForEach(func(k, v gjson.Result) bool {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = abi.AppendJSONString(dst, k.String())
		dst = append(dst, ':')
		dst = append(dst, v.Raw...)
		return true
	})
	dst = append(dst, `},"sync_device":`...)
	dst = strconv.AppendBool(dst, r.Get("option.roam").Bool())
	dst = append(dst, `,"routetype":"ROUTE_ONLINE","msg_id":`...)
	dst = abi.AppendJSONString(dst, r.Get("msgId").String())
	return append(dst, '}')
}

// Sample is a 1 KB input message.
var Sample = []byte(`{"from":"alice","to":["bob","carol","dave","erin"],"type":0,"msgId":"8f2c6a1e-5b7d-4c3a-9e0f-1d2b3c4d5e6f","body":{"msg":"Hello from imrelay! This sentence is here to make the message about a kilobyte long, the size the issue names, with some unicode too: 你好，世界 — ünïcödé ✓. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."},"ext":{"orderId":"A-1029384756","priority":3,"tags":["vip","cn"],"nested":{"a":1,"b":[true,false,null]},"trace":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"option":{"roam":true,"history":true,"sendersync":false,"push":true,"route":true,"badge":true,"persistent":true},"pushcontent":"You have a new message from alice","payload":{"sound":"default","badge":1,"category":"im"},"antispam":false,"bid":"biz-0042"}`)

// Spin is a tight loop of n rounds: the worst case for the termination
// checks wazero inserts at every loop header.
func Spin(n int64) int64 {
	var x uint64 = 88172645463325252
	var s int64
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		s += int64(x & 0xff)
	}
	return s
}

// TranslateAlloc is Translate written the naive way: it copies its input,
// builds slices and strings, and leaves garbage on every call (about 3 KB
// for Sample), like a plugin written without the SDK's builder. The host's
// memory test runs it 100,000 times.
func TranslateAlloc(src []byte) []byte {
	r := gjson.ParseBytes(src)
	var to []string
	for _, u := range r.Get("to").Array() {
		to = append(to, u.String())
	}
	ext := map[string]string{}
	r.Get("ext").ForEach(func(k, v gjson.Result) bool {
		ext[k.String()] = v.Raw
		return true
	})
	dst := make([]byte, 0, 64)
	dst = append(dst, `{"from":`...)
	dst = abi.AppendJSONString(dst, r.Get("from").String())
	dst = append(dst, `,"to":[`...)
	for i, u := range to {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = abi.AppendJSONString(dst, u)
	}
	dst = append(dst, `],"body":{"msg":`...)
	dst = abi.AppendJSONString(dst, string([]byte(r.Get("body.msg").String())))
	dst = append(dst, `},"ext_count":`...)
	dst = strconv.AppendInt(dst, int64(len(ext)), 10)
	return append(dst, '}')
}
