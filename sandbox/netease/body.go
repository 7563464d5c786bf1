package netease

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Message types, the same numbers in v1 (type) and v2 (message_type).
const (
	TypeText     = 0
	TypeImage    = 1
	TypeVoice    = 2
	TypeVideo    = 3
	TypeLocation = 4
	TypeFile     = 6
	TypeTip      = 10
	TypeCustom   = 100
)

// Limits NetEase documents.
const (
	MaxAccidLen      = 32
	MaxBodyLen       = 5000 // v1 body, v2 text: characters
	MaxMsgDescLen    = 500
	MaxPushLen       = 500
	MaxPayloadLen    = 2048
	MaxBatchV1       = 500
	MaxBatchV1WithID = 100
)

// validType reports whether t is one of the documented message types.
func validType(t int) bool {
	switch t {
	case TypeText, TypeImage, TypeVoice, TypeVideo, TypeLocation, TypeFile, TypeTip, TypeCustom:
		return true
	}
	return false
}

// parseType parses a message type given as a decimal string (v1 form).
func parseType(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s || !validType(n) {
		return 0, false
	}
	return n, true
}

// rule is one field of a message body: its JSON kind, and whether it must
// be present (a required string must also be non-empty).
type rule struct {
	name     string
	kind     gjson.Type
	required bool
}

const (
	str = gjson.String
	num = gjson.Number
)

// v1Rules are the fields of the v1 body per type. Only what a receiving
// client cannot do without is required; the other documented fields are
// checked for their JSON kind when present. Custom bodies are free.
var v1Rules = map[int][]rule{
	TypeText:     {{"msg", str, true}},
	TypeTip:      {{"msg", str, true}},
	TypeImage:    {{"url", str, true}, {"name", str, false}, {"md5", str, false}, {"ext", str, false}, {"w", num, false}, {"h", num, false}, {"size", num, false}},
	TypeVoice:    {{"url", str, true}, {"dur", num, false}, {"md5", str, false}, {"ext", str, false}, {"size", num, false}},
	TypeVideo:    {{"url", str, true}, {"dur", num, false}, {"md5", str, false}, {"ext", str, false}, {"w", num, false}, {"h", num, false}, {"size", num, false}},
	TypeLocation: {{"lat", num, true}, {"lng", num, true}, {"title", str, false}},
	TypeFile:     {{"url", str, true}, {"name", str, false}, {"md5", str, false}, {"ext", str, false}, {"size", num, false}},
}

// v2Rules are the fields of the v2 attachment per message_type. v2 names
// image and video sizes width/height; for the other media NetEase does not
// publish the names, so both the v1 and the likely v2 spelling are read.
var v2Rules = map[int][]rule{
	TypeImage:    {{"url", str, true}, {"name", str, false}, {"md5", str, false}, {"ext", str, false}, {"width", num, false}, {"height", num, false}, {"size", num, false}},
	TypeVoice:    {{"url", str, true}, {"dur", num, false}, {"duration", num, false}, {"md5", str, false}, {"ext", str, false}, {"size", num, false}},
	TypeVideo:    {{"url", str, true}, {"dur", num, false}, {"duration", num, false}, {"md5", str, false}, {"ext", str, false}, {"width", num, false}, {"height", num, false}, {"size", num, false}},
	TypeFile:     {{"url", str, true}, {"name", str, false}, {"md5", str, false}, {"ext", str, false}, {"size", num, false}},
	TypeLocation: {{"title", str, false}},
}

func kindName(k gjson.Type) string {
	if k == num {
		return "a number"
	}
	return "a string"
}

// checkRules applies rules to obj; where names the object in errors.
func checkRules(where string, obj gjson.Result, rules []rule) *apiError {
	for _, r := range rules {
		v := obj.Get(r.name) // rule names hold no gjson path syntax
		if !v.Exists() {
			if r.required {
				return errParam("%s.%s: required", where, r.name)
			}
			continue
		}
		if v.Type != r.kind {
			return errParam("%s.%s: must be %s", where, r.name, kindName(r.kind))
		}
		if r.required && r.kind == str && v.Str == "" {
			return errParam("%s.%s: must not be empty", where, r.name)
		}
	}
	return nil
}

// checkLatLng checks a location: lat within ±90, lng within ±180, both
// numbers. v2 may spell them latitude/longitude.
func checkLatLng(where string, obj gjson.Result) *apiError {
	lat, lng := obj.Get("lat"), obj.Get("lng")
	latName, lngName := "lat", "lng"
	if !lat.Exists() && !lng.Exists() {
		if la, lo := obj.Get("latitude"), obj.Get("longitude"); la.Exists() || lo.Exists() {
			lat, lng, latName, lngName = la, lo, "latitude", "longitude"
		}
	}
	for _, c := range []struct {
		name  string
		v     gjson.Result
		limit float64
	}{{latName, lat, 90}, {lngName, lng, 180}} {
		switch {
		case !c.v.Exists():
			return errParam("%s.%s: required", where, c.name)
		case c.v.Type != num:
			return errParam("%s.%s: must be a number", where, c.name)
		case c.v.Num < -c.limit || c.v.Num > c.limit:
			return errParam("%s.%s: out of range", where, c.name)
		}
	}
	return nil
}

// checkV1Body validates the body form field of a v1 send for its type.
func checkV1Body(typ int, body string) *apiError {
	if body == "" {
		return errParam("body: required")
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyLen {
		return errParam("body: %d characters, at most %d", n, MaxBodyLen)
	}
	if !gjson.Valid(body) {
		return errParam("body: not JSON")
	}
	obj := gjson.Parse(body)
	if !obj.IsObject() {
		return errParam("body: not a JSON object")
	}
	if err := checkRules("body", obj, v1Rules[typ]); err != nil {
		return err
	}
	if typ == TypeLocation {
		return checkLatLng("body", obj)
	}
	if typ == TypeVoice {
		if ext := obj.Get("ext"); ext.Exists() && !strings.EqualFold(ext.Str, "aac") {
			return errParam("body.ext: voice messages must be aac")
		}
	}
	return nil
}

// checkAccid checks an account or team id: present, at most 32 characters.
func checkAccid(name, v string) *apiError {
	switch {
	case v == "":
		return errParam("%s: required", name)
	case utf8.RuneCountInString(v) > MaxAccidLen:
		return errParam("%s: longer than %d characters", name, MaxAccidLen)
	}
	return nil
}

// checkLen checks an optional text field's length in characters.
func checkLen(name, v string, max int) *apiError {
	if n := utf8.RuneCountInString(v); n > max {
		return errParam("%s: %d characters, at most %d", name, n, max)
	}
	return nil
}
