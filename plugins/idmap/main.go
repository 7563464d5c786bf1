// Command idmap is a middleware plugin that renames user and group ids
// from one vendor's namespace to another's, so a team that moves vendor
// keeps its clients' ids while the new vendor gets its own.
//
// The table is the plugin's configuration, read and checked once by Init
// when the relay loads the plugin:
//
//	{"users": {"alice": "u-1001"}, "groups": {"g-ops": "team-42"}, "unmapped": "keep"}
//
// Transform copies the canonical batch as it is, except the sender (from)
// and every user and group recipient, which it looks up in the table. An
// id with no entry is kept as it is ("unmapped": "keep", the default) or
// refuses the whole request ("unmapped": "reject"), so no message reaches
// the new vendor with an id from the old one.
package main

import (
	"bytes"
	"fmt"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

func init() { sdk.RegisterMiddleware(&idmap{}) }

func main() {}

// idmap holds the table, built once by Init. One instance runs one call
// at a time, so the maps are only read while hooks run.
type idmap struct {
	users, groups map[string]string
	reject        bool // unmapped ids refuse the request
	err           error
}

var (
	_ sdk.Middleware = (*idmap)(nil)
	_ sdk.Init       = (*idmap)(nil)
)

// Init parses and checks the table. Every mistake refuses the load with a
// message naming the key, so a typo fails at start, not on a message.
func (m *idmap) Init(config []byte) error {
	m.users, m.groups, m.reject = map[string]string{}, map[string]string{}, false
	if len(bytes.TrimSpace(config)) == 0 {
		return fmt.Errorf(`idmap: no configuration: give the table as {"users": {"old": "new"}, "groups": {...}}`)
	}
	if !gjson.ValidBytes(config) || !sdk.Parse(config).IsObject() {
		return fmt.Errorf("idmap: configuration must be a JSON object, got %.60q", config)
	}
	var err error
	seen := map[string]bool{}
	sdk.Parse(config).ForEach(func(k, v gjson.Result) bool {
		if seen[k.Str] {
			err = fmt.Errorf("idmap: key %q appears twice", k.Str)
			return false
		}
		seen[k.Str] = true
		switch k.Str {
		case "users":
			err = readTable("users", v, m.users)
		case "groups":
			err = readTable("groups", v, m.groups)
		case "unmapped":
			switch {
			case v.Type == gjson.String && v.Str == "keep":
			case v.Type == gjson.String && v.Str == "reject":
				m.reject = true
			default:
				err = fmt.Errorf(`idmap: unmapped must be "keep" or "reject", got %s`, v.Raw)
			}
		default:
			err = fmt.Errorf("idmap: unknown key %q (want users, groups, unmapped)", k.Str)
		}
		return err == nil
	})
	if err == nil && len(m.users) == 0 && len(m.groups) == 0 {
		err = fmt.Errorf("idmap: the table is empty: give users or groups")
	}
	return err
}

// readTable reads one {"old": "new"} object into dst.
func readTable(key string, v gjson.Result, dst map[string]string) error {
	if !v.IsObject() {
		return fmt.Errorf(`idmap: %s must be an object {"old id": "new id"}, got %s`, key, v.Raw)
	}
	var err error
	v.ForEach(func(old, to gjson.Result) bool {
		switch {
		case old.Str == "":
			err = fmt.Errorf("idmap: %s: an empty id cannot be mapped", key)
		case to.Type != gjson.String || to.Str == "":
			err = fmt.Errorf("idmap: %s.%s: the new id must be a non-empty string, got %s", key, old.Str, to.Raw)
		default:
			if _, dup := dst[old.Str]; dup {
				err = fmt.Errorf("idmap: %s.%s appears twice", key, old.Str)
			}
		}
		if err != nil {
			return false
		}
		dst[old.Str] = to.Str
		return true
	})
	return err
}

// Transform writes the batch back with the sender and the user and group
// recipients renamed. Everything else (other recipient lists, kinds,
// media, ext, vendor) is copied as the decoder wrote it.
func (m *idmap) Transform(opts, batch []byte, out *sdk.JSON) error {
	if _, err := sdk.Batch(batch); err != nil {
		return err
	}
	m.err = nil
	out.Object()
	sdk.Parse(batch).ForEach(func(k, v gjson.Result) bool {
		out.Key(k.Str)
		if k.Str != sdk.KeyMessages {
			out.Value(v)
			return true
		}
		out.Array()
		i := 0
		v.ForEach(func(_, msg gjson.Result) bool {
			m.message(i, msg, out)
			i++
			return m.err == nil
		})
		out.End()
		return m.err == nil
	})
	out.End()
	return m.err
}

// message copies one message, renaming its ids.
func (m *idmap) message(i int, msg gjson.Result, out *sdk.JSON) {
	if !msg.IsObject() {
		out.Value(msg)
		return
	}
	out.Object()
	msg.ForEach(func(k, v gjson.Result) bool {
		out.Key(k.Str)
		switch k.Str {
		case sdk.KeyFrom:
			m.id(m.users, "user", i, "from", v, out)
		case sdk.KeyTo:
			m.recipients(i, v, out)
		default:
			out.Value(v)
		}
		return m.err == nil
	})
	out.End()
}

// recipients copies a message's "to", renaming users and groups.
func (m *idmap) recipients(i int, to gjson.Result, out *sdk.JSON) {
	if !to.IsObject() {
		out.Value(to)
		return
	}
	out.Object()
	to.ForEach(func(k, list gjson.Result) bool {
		out.Key(k.Str)
		var table map[string]string
		var what string
		switch k.Str {
		case sdk.ToUsers:
			table, what = m.users, "user"
		case sdk.ToGroups:
			table, what = m.groups, "group"
		}
		if table == nil || !list.IsArray() {
			out.Value(list)
			return true
		}
		out.Array()
		list.ForEach(func(_, id gjson.Result) bool {
			m.id(table, what, i, k.Str, id, out)
			return m.err == nil
		})
		out.End()
		return m.err == nil
	})
	out.End()
}

// id writes the new id of one sender or recipient. An id that is not a
// non-empty string is copied as it is: encoders skip those.
func (m *idmap) id(table map[string]string, what string, i int, where string, id gjson.Result, out *sdk.JSON) {
	if id.Type != gjson.String || id.Str == "" {
		out.Value(id)
		return
	}
	if n, ok := table[id.Str]; ok {
		out.String(n)
		return
	}
	if m.reject {
		if where != sdk.KeyFrom {
			where = "to." + where
		}
		m.err = sdk.Error(abi.CodeBadRequest, "", "idmap: %s %q (messages[%d].%s) has no mapping in the id table", what, id.Str, i, where)
		out.Null() // keep the document well formed; the error replaces it
		return
	}
	out.Value(id)
}
