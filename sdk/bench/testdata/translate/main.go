// Command translate is the benchmark codec of package bench built as a
// plugin: the same source the benchmarks run natively.
package main

import (
	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/bench"
)

func init() { sdk.RegisterCodec(&bench.Translator{}) }

func main() {}
