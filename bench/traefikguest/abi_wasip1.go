//go:build wasip1

package main

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
	"unsafe"
)

// The http-wasm handler ABI as Traefik v3.6.12 hosts it
// (http-wasm-host-go v0.7.0, host module "http_handler").

//go:wasmimport http_handler enable_features
func enableFeatures(features uint32) uint32

//go:wasmimport http_handler get_config
func getConfig(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_method
func getMethod(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_uri
func getURI(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler set_uri
func setURI(uri unsafe.Pointer, n uint32)

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler read_body
func readBody(kind uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler write_body
func writeBody(kind uint32, body unsafe.Pointer, n uint32)

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

const (
	kindRequest  = 0 // header and body kinds
	kindResponse = 1

	featureBufferResponse = 1 << 1 // read the next handler's answer in handle_response
)

// buf is the one scratch buffer host calls write into: an instance serves
// one request at a time.
var buf = make([]byte, 16<<10)

// get calls a get_* import, growing buf when the value is larger.
func get(fn func(unsafe.Pointer, uint32) uint32) []byte {
	n := fn(unsafe.Pointer(&buf[0]), uint32(len(buf)))
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = fn(unsafe.Pointer(&buf[0]), uint32(len(buf)))
	}
	return buf[:n]
}

// readAll reads a whole body into buf.
func readAll(kind uint32) []byte {
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		eofLen := readBody(kind, unsafe.Pointer(&buf[n]), uint32(len(buf)-n))
		n += int(uint32(eofLen))
		if eofLen>>32 != 0 {
			return buf[:n]
		}
	}
}

func setHeader(kind uint32, name, value string) {
	setHeaderValue(kind, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)),
		unsafe.Pointer(unsafe.StringData(value)), uint32(len(value)))
}

func write(kind uint32, b []byte) {
	if len(b) > 0 {
		writeBody(kind, unsafe.Pointer(&b[0]), uint32(len(b)))
	}
}

// respond gives the client a getsender answer (always HTTP 200, as
// getsender does and the other peers do).
func respond(answer []byte) {
	setStatusCode(200)
	setHeader(kindResponse, "Content-Type", "application/json;charset=UTF-8")
	setHeader(kindResponse, "Content-Length", strconv.Itoa(len(answer)))
	write(kindResponse, answer)
}

var cfg config

func init() {
	var err error
	if cfg, err = parseConfig(append([]byte(nil), get(getConfig)...)); err != nil {
		panic(err) // fails the instantiation: Traefik reports it at start
	}
	// Once for the whole middleware, not per request.
	enableFeatures(featureBufferResponse)
}

//go:wasmexport handle_request
func handleRequest() uint64 {
	now := time.Now()
	method := string(get(getMethod))
	if !cfg.authorized(method, string(get(getURI))) {
		respond(answerJSON(401, "unauthorized", "", now))
		return 0 // answered: skip the next handler
	}
	uri, body, answer := cfg.translateRequest(readAll(kindRequest), now)
	if answer != nil {
		respond(answer)
		return 0
	}
	var nb [8]byte
	_, _ = rand.Read(nb[:])
	setURI(unsafe.Pointer(unsafe.StringData(uri)), uint32(len(uri)))
	// The body's length changes: Traefik's buffering middleware after
	// this one sets the request's ContentLength from it.
	write(kindRequest, body)
	setHeader(kindRequest, "Content-Type", "application/json;charset=UTF-8")
	for _, h := range cfg.signature(hex.EncodeToString(nb[:]), now) {
		setHeader(kindRequest, h[0], h[1])
	}
	return 1 // on to the next handler, then handle_response
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	now := time.Now()
	if isError != 0 {
		respond(answerJSON(502, "upstream unreachable", "", now))
		return
	}
	respond(translateResponse(readAll(kindResponse), now))
}
