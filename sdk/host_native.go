//go:build !wasip1

package sdk

import "sync"

// Built natively (tests, sdk/sdktest) the host functions are plain Go: log
// lines go to the function set with SetLogFunc, and Config returns the bytes
// given to SetConfig or Initialize.

var host struct {
	sync.Mutex
	log    func(level int32, msg string)
	config []byte
}

// Log writes one log line at level (abi.LogDebug, LogInfo, LogWarn,
// LogError). In wasm the host writes it, tagged with the plugin's name;
// natively it goes to the function set with SetLogFunc, or nowhere.
func Log(level int32, msg string) {
	host.Lock()
	f := host.log
	host.Unlock()
	if f != nil {
		f(level, msg)
	}
}

// Config returns the plugin's configuration bytes, as given to the host
// when it loaded the plugin (natively: to SetConfig or Initialize). Do not
// modify them.
// Call it from Init or a hook, not from a package's init function, which
// runs while the host is still instantiating the module.
func Config() []byte {
	host.Lock()
	defer host.Unlock()
	return host.config
}

// SetLogFunc sets where Log writes when the plugin runs natively (nil:
// nowhere). It is for tests; sdk/sdktest sets it to the test's log.
func SetLogFunc(f func(level int32, msg string)) {
	host.Lock()
	host.log = f
	host.Unlock()
}

// SetConfig sets what Config returns when the plugin runs natively.
func SetConfig(config []byte) {
	host.Lock()
	host.config = config
	host.Unlock()
}

// Initialize does natively what the host does once when it loads a plugin:
// it makes config what Config returns and runs the registered plugin's Init,
// if it implements Init. The error is the one the host would refuse the
// plugin with (a *abi.GuestError).
func Initialize(config []byte) error {
	SetConfig(config)
	return initPlugin(config)
}
