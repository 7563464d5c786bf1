package sdktest

import "fmt"

// Result is the outcome of one case run by Check.
type Result struct {
	Case *Case
	// Err is nil when the case passed. Otherwise it says what differs,
	// with a line diff (-want +got) when the output or error differs, and
	// starts with the case file's path.
	Err error
}

// Check runs cases against target and returns one Result per case, in the
// order given, without a testing.T: it is what `imrelay plugin test` runs,
// and what a tool that is not a Go test can call. Each case is checked
// exactly as Run checks it (Run is Check with one subtest per case, plus
// -update). Plugin log lines are discarded. The error is for a target
// that cannot be opened (a module that cannot be read or loaded).
//
//	cases, _ := sdktest.LoadCases("testdata/cases")
//	results, err := sdktest.Check(sdktest.Wasm("hello.wasm"), cases)
func Check(target Target, cases []*Case) ([]Result, error) {
	r, err := target.open(nil, &logSink{})
	if err != nil {
		return nil, err
	}
	defer r.close()
	results := make([]Result, len(cases))
	for i, c := range cases {
		results[i] = Result{Case: c, Err: checkCase(r, c, false)}
	}
	return results, nil
}

// String is "ok <name>" or "FAIL <name>" followed by what differs.
func (r Result) String() string {
	if r.Err == nil {
		return "ok   " + r.Case.Name
	}
	return fmt.Sprintf("FAIL %s\n%v", r.Case.Name, r.Err)
}
