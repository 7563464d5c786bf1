package sdk

import (
	"errors"
	"fmt"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Logf formats a message and writes it with Log. Formatting allocates: keep
// it off the path every message takes, or guard it with a level check of
// your own.
func Logf(level int32, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }

// initPlugin runs the registered plugin's Init, if it has one, with config.
// A panic becomes an error, as in Dispatch.
func initPlugin(config []byte) (err error) {
	var p any
	switch {
	case codec != nil:
		p = codec
	case middleware != nil:
		p = middleware
	default:
		return Error(abi.CodeInternal, "", "sdk: no codec or middleware registered (call sdk.RegisterCodec or sdk.RegisterMiddleware from init)")
	}
	in, ok := p.(Init)
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = Error(abi.CodeInternal, "", "sdk: init panicked: %v", r)
		}
	}()
	if err := in.Init(config); err != nil {
		var ge *abi.GuestError
		if errors.As(err, &ge) {
			return err
		}
		// A configuration error is the operator's to fix: name it so.
		return Error(abi.CodeBadRequest, "", "%v", err)
	}
	return nil
}
