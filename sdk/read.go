package sdk

import "github.com/tidwall/gjson"

// Reading inputs. Hook inputs are byte slices; gjson reads strings. Its own
// []byte entry points copy: gjson.ParseBytes copies the whole document and
// gjson.GetBytes copies every result it returns, which is most of the
// allocation a naive plugin does. Parse and Get below read the input in
// place instead. Their results (Raw, Str, and everything read from them)
// are views into the input: use them during the hook, write them out with
// JSON, and never keep them after the hook returns (the SDK reuses the
// input buffer for the next call).

// Parse returns the JSON document b as a gjson.Result without copying it.
func Parse(b []byte) gjson.Result { return gjson.Parse(bytesToString(b)) }

// Get returns the value at path in the JSON document b (gjson path syntax)
// without copying it.
func Get(b []byte, path string) gjson.Result { return gjson.Get(bytesToString(b), path) }

// Str returns b as a string without copying it; the string is valid only
// while b is (during the hook).
func Str(b []byte) string { return bytesToString(b) }

// Fields reads several members of the object obj in one pass: vals[i]
// receives the value of keys[i] (the first one, if the key repeats), or a
// zero Result when obj has no such member. Reading n members with n calls
// of Get scans the object up to n times; for a large body, and in wasm,
// where scanning runs several times slower than natively, one pass is the
// cheaper way. vals must be at least as long as keys. It does not
// allocate when the keys in obj have no escapes.
//
//	var v [3]gjson.Result
//	sdk.Fields(body, []string{"to", "text", "from"}, v[:])
//	to, text, from := v[0], v[1], v[2]
func Fields(obj gjson.Result, keys []string, vals []gjson.Result) {
	vals = vals[:len(keys)]
	clear(vals)
	left := len(keys)
	obj.ForEach(func(k, v gjson.Result) bool {
		for i, key := range keys {
			if k.Str == key && vals[i].Type == gjson.Null && vals[i].Raw == "" {
				vals[i] = v
				left--
				break
			}
		}
		return left > 0
	})
}
