package sdk

import "unsafe"

// bytesToString views b as a string without copying. The caller must not
// modify b while the string is in use.
func bytesToString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
