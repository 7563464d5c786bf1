// Command traefikguest is the Traefik peer's plugin: the getsender →
// NetEase translation as an http-wasm handler (module http_handler), a
// plain Go wasip1 guest built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
//
// `bench run -traefik` builds it and lays it out as a Traefik local plugin
// (bench/traefik.go). It does what the nginx peer's njs script does: check
// the client and token, parse the getsender text message with gjson, build
// the NetEase v2 body, sign it, rewrite the path, and turn NetEase's answer
// into getsender's.
//
// The translation is in translate.go, pure functions tested natively; the
// ABI glue is in abi_wasip1.go. The credentials come from the plugin's
// configuration (get_config), which the runner fills with the constants
// every peer uses.
package main

// main is not called: a c-shared wasip1 module runs its package
// initialisation from _initialize and is then entered through its exports.
func main() {}
