//go:build !wasip1

package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

func TestInitializeAndHost(t *testing.T) {
	if err := Initialize(nil); err == nil || !strings.Contains(err.Error(), "no codec or middleware") {
		t.Fatalf("Initialize with nothing registered: %v", err)
	}
	c := typicalCodec()
	var seen []byte
	c.init = func(config []byte) error {
		seen = config
		if string(config) == "bad" {
			return errors.New("config is bad")
		}
		if string(config) == "panic" {
			panic("oops")
		}
		return nil
	}
	useCodec(t, c)
	if err := Initialize([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if string(seen) != `{"a":1}` || string(Config()) != `{"a":1}` {
		t.Fatalf("Init saw %q, Config() = %q", seen, Config())
	}
	var ge *abi.GuestError
	if err := Initialize([]byte("bad")); !errors.As(err, &ge) || ge.Code != abi.CodeBadRequest || ge.Message != "config is bad" {
		t.Fatalf("bad config: %v", err)
	}
	if err := Initialize([]byte("panic")); !errors.As(err, &ge) || ge.Code != abi.CodeInternal || !strings.Contains(ge.Message, "oops") {
		t.Fatalf("panicking Init: %v", err)
	}
	SetConfig(nil)

	var lines []string
	SetLogFunc(func(level int32, msg string) { lines = append(lines, levelString(level)+" "+msg) })
	t.Cleanup(func() { SetLogFunc(nil) })
	Log(abi.LogWarn, "careful")
	Logf(abi.LogDebug, "n=%d", 3)
	if strings.Join(lines, "|") != "warn careful|debug n=3" {
		t.Fatalf("log lines %q", lines)
	}
}

func levelString(l int32) string {
	switch l {
	case abi.LogDebug:
		return "debug"
	case abi.LogInfo:
		return "info"
	case abi.LogWarn:
		return "warn"
	}
	return "error"
}
