package wasmhost

// tinyModule hand-assembles the smallest ABI v1 middleware: every export
// returns a constant. Tests use it for what a Go fixture cannot get wrong on
// purpose: a foreign version marker, an unknown kind, a foreign import.
func tinyModule(version, kind int32, importModule, importName string) []byte {
	const (
		i32 = 0x7f
		i64 = 0x7e
	)
	var out []byte
	section := func(id byte, body []byte) {
		out = append(out, id)
		out = appendULEB(out, uint32(len(body)))
		out = append(out, body...)
	}
	name := func(b []byte, s string) []byte {
		b = appendULEB(b, uint32(len(s)))
		return append(b, s...)
	}
	out = append(out, 0, 'a', 's', 'm', 1, 0, 0, 0)

	// Types: 0 () -> i32, 1 (i32) -> i32, 2 () -> i64, 3 (i32) -> i64, 4 (i32) -> ().
	section(1, []byte{5,
		0x60, 0, 1, i32,
		0x60, 1, i32, 1, i32,
		0x60, 0, 1, i64,
		0x60, 1, i32, 1, i64,
		0x60, 1, i32, 0,
	})
	imported := 0
	if importModule != "" {
		imp := []byte{1}
		imp = name(imp, importModule)
		imp = name(imp, importName)
		imp = append(imp, 0x00, 4)
		section(2, imp)
		imported = 1
	}
	// Functions: version, kind, buffer, init, transform.
	section(3, []byte{5, 0, 0, 1, 2, 3})
	section(5, []byte{1, 0x00, 1}) // one memory, min 1 page
	exports := []struct {
		name string
		kind byte
		idx  int
	}{
		{"memory", 2, 0},
		{"imrelay_abi_version", 0, imported + 0},
		{"imrelay_kind", 0, imported + 1},
		{"imrelay_buffer", 0, imported + 2},
		{"imrelay_init", 0, imported + 3},
		{"imrelay_transform", 0, imported + 4},
	}
	exp := appendULEB(nil, uint32(len(exports)))
	for _, e := range exports {
		exp = name(exp, e.name)
		exp = append(exp, e.kind)
		exp = appendULEB(exp, uint32(e.idx))
	}
	section(7, exp)
	bodies := [][]byte{
		appendSLEB([]byte{0x41}, int64(version)),
		appendSLEB([]byte{0x41}, int64(kind)),
		appendSLEB([]byte{0x41}, 1024),
		{0x42, 0},
		{0x42, 0},
	}
	code := appendULEB(nil, uint32(len(bodies)))
	for _, b := range bodies {
		fn := append([]byte{0}, b...) // no locals
		fn = append(fn, 0x0b)
		code = appendULEB(code, uint32(len(fn)))
		code = append(code, fn...)
	}
	section(10, code)
	return out
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}
