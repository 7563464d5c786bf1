package main

import (
	"math"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// codec is the Easemob codec. One plugin instance runs one call at a time,
// so its scratch buffers need no locking; they only grow.
type codec struct {
	tag   sdk.JSON            // the tag of the request being encoded
	text  []byte              // fallback text of a degraded message
	data  []entry             // "data" members of a provider answer
	seen  map[string]struct{} // recipients already written to a client answer
	paths pathCache
}

var _ sdk.Codec = (*codec)(nil)

// entry is one member of an Easemob answer's "data" map.
type entry struct{ key, val string }

// Easemob message types and the canonical kind of each.
var types = [...]struct{ em, kind string }{
	{"txt", sdk.KindText},
	{"img", sdk.KindImage},
	{"audio", sdk.KindAudio},
	{"video", sdk.KindVideo},
	{"file", sdk.KindFile},
	{"loc", sdk.KindLocation},
	{"cmd", sdk.KindCommand},
	{"custom", sdk.KindCustom},
}

func kindOf(emType string) string {
	for _, t := range types {
		if t.em == emType {
			return t.kind
		}
	}
	return ""
}

// target is one Easemob recipient kind: its endpoint, legacy target_type,
// canonical list and per-call limit.
type target struct {
	name   string // users, chatgroups, chatrooms: endpoint suffix and target_type
	list   string // canonical recipient list
	toType string // canonical result type
	max    int    // recipients per call
}

var (
	targetUsers  = target{"users", sdk.ToUsers, sdk.ToTypeUser, 600}
	targetGroups = target{"chatgroups", sdk.ToGroups, sdk.ToTypeGroup, 3}
	targetRooms  = target{"chatrooms", sdk.ToRooms, sdk.ToTypeRoom, 10}
	targets      = [...]*target{&targetUsers, &targetGroups, &targetRooms}
)

func targetNamed(name string) *target {
	for _, t := range targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// endpointLegacy is the batch vendor "endpoint" of the legacy /messages.
const endpointLegacy = "legacy"

// Easemob field names the codec reads and writes.
const (
	extSilent      = "em_ignore_notification"
	extAPNs        = "em_apns_ext"
	extPushContent = "em_push_content"
	routeOnline    = "ROUTE_ONLINE"
)

// DecodeRequest turns an Easemob send request into a canonical batch of one
// message. Errors use Easemob's own wording ("param to can't be empty") and
// name the field in the client's terms.
func (c *codec) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	org, app, endpoint, err := parsePath(sdk.Str(req.Path))
	if err != nil {
		return err
	}
	if m := sdk.Str(req.Method); m != "POST" {
		return sdk.Error(abi.CodeNotFound, "", "Service operation not supported: %s", m)
	}
	if !gjson.Valid(sdk.Str(req.Body)) {
		return sdk.BadField("", "Request body is invalid. Please check body is correct.")
	}
	root := sdk.Parse(req.Body)
	if !root.IsObject() {
		return sdk.BadField("", "Request body is invalid. Please check body is correct.")
	}
	out.Object().KeyInt(sdk.KeyVersion, sdk.ModelVersion)
	out.Key(sdk.KeyVendor).Object().Key(sdk.DialectEasemob).Object()
	out.KeyString("org", org).KeyString("app", app).KeyString("endpoint", endpoint)
	if endpoint == endpointLegacy {
		out.KeyBool("use_msg_id", queryTrue(sdk.Str(req.Query), "useMsgId"))
	}
	out.End().End()
	out.Key(sdk.KeyMessages).Array()
	if endpoint == endpointLegacy {
		err = decodeLegacy(root, out)
	} else {
		err = decodeCurrent(root, targetNamed(endpoint), out)
	}
	if err != nil {
		return err
	}
	out.End().End()
	return nil
}

// parsePath splits /{org}/{app}/messages[/{users|chatgroups|chatrooms}].
func parsePath(p string) (org, app, endpoint string, err error) {
	rest := strings.TrimPrefix(p, "/")
	rest = strings.TrimSuffix(rest, "/")
	var seg [5]string
	n := 0
	for n < len(seg) {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			seg[n] = rest
			n++
			break
		}
		seg[n] = rest[:i]
		rest = rest[i+1:]
		n++
		if n == len(seg) {
			n++ // too many segments
		}
	}
	if n < 3 || n > 4 || seg[0] == "" || seg[1] == "" || seg[2] != "messages" {
		return "", "", "", sdk.Error(abi.CodeNotFound, "", "Service resource not found: %s", p)
	}
	if n == 3 {
		return seg[0], seg[1], endpointLegacy, nil
	}
	if targetNamed(seg[3]) == nil {
		return "", "", "", sdk.Error(abi.CodeNotFound, "", "Service resource not found: %s", p)
	}
	return seg[0], seg[1], seg[3], nil
}

// queryTrue reports whether the raw query has key=true (any case).
func queryTrue(q, key string) bool {
	for q != "" {
		var kv string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, ""
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == key && strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// decodeCurrent decodes the body of /messages/{users|chatgroups|chatrooms}.
func decodeCurrent(root gjson.Result, t *target, out *sdk.JSON) error {
	from, err := checkFrom(root.Get("from"), "from")
	if err != nil {
		return err
	}
	to := root.Get("to")
	if err := checkIDs(to, "to", t.max); err != nil {
		return err
	}
	typ := root.Get("type")
	if typ.Type != gjson.String || typ.Str == "" {
		if typ.Exists() && typ.Type != gjson.Null && typ.Type != gjson.String {
			return sdk.BadField("type", "param type must be a string")
		}
		return sdk.BadField("type", "param type can't be empty")
	}
	kind := kindOf(typ.Str)
	if kind == "" {
		return sdk.BadField("type", "param type is invalid: %q is not one of txt, img, audio, video, file, loc, cmd, custom", typ.Str)
	}
	body := root.Get("body")
	if !body.IsObject() {
		if body.Exists() && body.Type != gjson.Null {
			return sdk.BadField("body", "param body must be a JSON object")
		}
		return sdk.BadField("body", "param body can't be empty")
	}
	out.Object().KeyString(sdk.KeyKind, kind)
	out.OptString(sdk.KeyFrom, from)
	out.Key(sdk.KeyTo).Object().KeyValue(t.list, to).End()
	if err := decodeContent(kind, body, "body.", out); err != nil {
		return err
	}
	if err := decodeEnvelope(root, t, false, out); err != nil {
		return err
	}
	out.End()
	return nil
}

// decodeLegacy decodes the body of the legacy /messages endpoint.
func decodeLegacy(root gjson.Result, out *sdk.JSON) error {
	tt := root.Get("target_type")
	t := targetNamed(tt.Str)
	if tt.Type != gjson.String || t == nil {
		return sdk.BadField("target_type", "target_type can only be 'users' or 'chatgroups' or 'chatrooms'")
	}
	to := root.Get("target")
	if err := checkIDs(to, "target", 600); err != nil {
		return err
	}
	from, err := checkFrom(root.Get("from"), "from")
	if err != nil {
		return err
	}
	msg := root.Get("msg")
	if !msg.IsObject() {
		return sdk.BadField("msg", "msg can't be empty: it must be an object with a type")
	}
	typ := msg.Get("type")
	if typ.Type != gjson.String || typ.Str == "" {
		return sdk.BadField("msg.type", "msg type can't be empty")
	}
	kind := kindOf(typ.Str)
	if kind == "" {
		return sdk.BadField("msg.type", "msg type is invalid: %q is not one of txt, img, audio, video, file, loc, cmd, custom", typ.Str)
	}
	out.Object().KeyString(sdk.KeyKind, kind)
	out.OptString(sdk.KeyFrom, from)
	out.Key(sdk.KeyTo).Object().KeyValue(t.list, to).End()
	if err := decodeContent(kind, msg, "msg.", out); err != nil {
		return err
	}
	if err := decodeEnvelope(root, t, true, out); err != nil {
		return err
	}
	out.End()
	return nil
}

// checkFrom applies Easemob's rule: absent means the default sender,
// present but empty is an error.
func checkFrom(v gjson.Result, field string) (string, error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return "", nil
	case v.Type != gjson.String:
		return "", sdk.BadField(field, "param %s must be a string", field)
	case v.Str == "":
		return "", sdk.BadField(field, "param %s can't be empty", field)
	case sdk.IDProblem(v.Str) != "":
		return "", sdk.BadField(field, "param %s %s", field, sdk.IDProblem(v.Str))
	}
	return v.Str, nil
}

// checkIDs checks a non-empty array of non-empty strings of at most max.
func checkIDs(v gjson.Result, field string, max int) error {
	if !v.IsArray() {
		if !v.Exists() || v.Type == gjson.Null {
			return sdk.BadField(field, "param %s can't be empty", field)
		}
		return sdk.BadField(field, "param %s must be an array of IDs", field)
	}
	n := 0
	var err error
	v.ForEach(func(_, id gjson.Result) bool {
		if id.Type != gjson.String || id.Str == "" {
			err = sdk.BadField(field+"["+strconv.Itoa(n)+"]", "param %s[%d] must be a non-empty string", field, n)
			return false
		}
		if why := sdk.IDProblem(id.Str); why != "" {
			err = sdk.BadField(field+"["+strconv.Itoa(n)+"]", "param %s[%d] %s", field, n, why)
			return false
		}
		n++
		return true
	})
	switch {
	case err != nil:
		return err
	case n == 0:
		return sdk.BadField(field, "param %s can't be empty", field)
	case n > max:
		return sdk.Error(abi.CodeBadRequest, field, "params %s's size can't exceed limit %d", field, max)
	}
	return nil
}

// decodeContent writes the canonical content of one Easemob message body
// (the new API's "body", or the legacy "msg" with its type inside).
func decodeContent(kind string, b gjson.Result, prefix string, out *sdk.JSON) error {
	switch kind {
	case sdk.KindText:
		msg := b.Get("msg")
		if msg.Type != gjson.String || msg.Str == "" {
			return needString(msg, prefix+"msg")
		}
		out.KeyValue(sdk.KeyText, msg)
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo, sdk.KindFile:
		return decodeMedia(kind, b, prefix, out)
	case sdk.KindLocation:
		lat, err := coordinate(b.Get("lat"), prefix+"lat", 90)
		if err != nil {
			return err
		}
		lng, err := coordinate(b.Get("lng"), prefix+"lng", 180)
		if err != nil {
			return err
		}
		addr := b.Get("addr")
		if addr.Exists() && addr.Type != gjson.String && addr.Type != gjson.Null {
			return sdk.BadField(prefix+"addr", "param %saddr must be a string", prefix)
		}
		out.Key(sdk.KeyLocation).Object().KeyFloat(sdk.LocLat, lat).KeyFloat(sdk.LocLng, lng)
		out.OptString(sdk.LocAddress, addr.Str).End()
	case sdk.KindCommand:
		action := b.Get("action")
		if action.Type != gjson.String || action.Str == "" {
			return needString(action, prefix+"action")
		}
		out.Key(sdk.KeyCommand).Object().KeyValue(sdk.CommandAction, action).End()
	case sdk.KindCustom:
		ev := b.Get("customEvent")
		if ev.Exists() && ev.Type != gjson.Null && (ev.Type != gjson.String || !validEvent(ev.Str)) {
			return sdk.BadField(prefix+"customEvent", "param %scustomEvent must match [a-zA-Z0-9-_/\\.]{1,32}", prefix)
		}
		exts := b.Get("customExts")
		if exts.Exists() && exts.Type != gjson.Null {
			if !exts.IsObject() {
				return sdk.BadField(prefix+"customExts", "param %scustomExts must be Map<String,String>", prefix)
			}
			n := 0
			var err error
			exts.ForEach(func(k, v gjson.Result) bool {
				if v.Type != gjson.String {
					err = sdk.BadField(prefix+"customExts."+k.Str, "param %scustomExts.%s must be a string", prefix, k.Str)
					return false
				}
				n++
				return true
			})
			if err != nil {
				return err
			}
			if n > 16 {
				return sdk.BadField(prefix+"customExts", "param %scustomExts can't exceed 16 entries", prefix)
			}
		}
		out.Key(sdk.KeyCustom).Object()
		out.OptString(sdk.CustomEvent, ev.Str)
		out.OptValue(sdk.CustomFields, exts)
		out.End()
	}
	return nil
}

// decodeMedia writes "media" for img, audio, video and file.
func decodeMedia(kind string, b gjson.Result, prefix string, out *sdk.JSON) error {
	url := b.Get("url")
	if url.Type != gjson.String || url.Str == "" {
		return needString(url, prefix+"url")
	}
	var strs [4]gjson.Result // filename, secret, thumb, thumb_secret
	for i, k := range [...]string{"filename", "secret", "thumb", "thumb_secret"} {
		v := b.Get(k)
		if v.Exists() && v.Type != gjson.String && v.Type != gjson.Null {
			return sdk.BadField(prefix+k, "param %s%s must be a string", prefix, k)
		}
		strs[i] = v
	}
	var width, height, length, fileLen float64
	var err error
	if size := b.Get("size"); size.Exists() && size.Type != gjson.Null {
		if !size.IsObject() {
			return sdk.BadField(prefix+"size", "param %ssize must be an object with width and height", prefix)
		}
		if width, err = number(size.Get("width"), prefix+"size.width"); err != nil {
			return err
		}
		if height, err = number(size.Get("height"), prefix+"size.height"); err != nil {
			return err
		}
	}
	l := b.Get("length")
	if !l.Exists() {
		l = b.Get("Length") // the vendor's table spells it so
	}
	if length, err = number(l, prefix+"length"); err != nil {
		return err
	}
	if fileLen, err = number(b.Get("file_length"), prefix+"file_length"); err != nil {
		return err
	}
	out.Key(sdk.KeyMedia).Object()
	out.KeyValue(sdk.MediaURL, url)
	out.KeyString(sdk.MediaVendor, sdk.DialectEasemob)
	out.OptValue(sdk.MediaSecret, strs[1])
	out.OptValue(sdk.MediaName, strs[0])
	out.OptInt(sdk.MediaSize, int64(fileLen))
	out.OptInt(sdk.MediaWidth, int64(width))
	out.OptInt(sdk.MediaHeight, int64(height))
	if kind == sdk.KindAudio || kind == sdk.KindVideo {
		out.OptInt(sdk.MediaDurationMS, int64(math.Round(length*1000)))
	}
	out.OptValue(sdk.MediaThumbURL, strs[2])
	out.OptValue(sdk.MediaThumbSecret, strs[3])
	out.End()
	return nil
}

// decodeEnvelope writes options, ext and vendor fields of the message.
func decodeEnvelope(root gjson.Result, t *target, legacy bool, out *sdk.JSON) error {
	ext := root.Get("ext")
	if ext.Exists() && !ext.IsObject() {
		return sdk.BadField("ext", "param ext must be JSONObject")
	}
	sync := root.Get("sync_device")
	if sync.Exists() && sync.Type != gjson.True && sync.Type != gjson.False {
		return sdk.BadField("sync_device", "param sync_device must be a boolean")
	}
	route := root.Get("routetype")
	if route.Exists() && route.Type != gjson.String {
		return sdk.BadField("routetype", "param routetype must be a string")
	}
	level := root.Get("chatroom_msg_level")
	if level.Exists() && level.Str != "high" && level.Str != "normal" && level.Str != "low" {
		return sdk.BadField("chatroom_msg_level", "param chatroom_msg_level must be high, normal or low")
	}
	ack := root.Get("need_group_ack")
	if ack.Exists() && ack.Type != gjson.True && ack.Type != gjson.False {
		return sdk.BadField("need_group_ack", "param need_group_ack must be a boolean")
	}
	roam := root.Get("roam_ignore_users")
	if roam.Exists() && roam.Type != gjson.Null {
		if err := checkIDs(roam, "roam_ignore_users", math.MaxInt); err != nil {
			return err
		}
	}
	silent := ext.Get(extSilent).Type == gjson.True
	push := ext.Get(extAPNs).Get(extPushContent)
	online := route.Str == routeOnline
	if silent || online || sync.Type == gjson.True || push.Str != "" {
		out.Key(sdk.KeyOptions).Object()
		out.OptBool(sdk.OptSilent, silent)
		out.OptBool(sdk.OptOnlineOnly, online)
		out.OptString(sdk.OptPushText, push.Str)
		out.OptBool(sdk.OptSyncSender, sync.Type == gjson.True)
		out.End()
	}
	if ext.IsObject() {
		wrote := false
		ext.ForEach(func(k, v gjson.Result) bool {
			if k.Str == extSilent {
				return true // lifted into options.silent
			}
			if !wrote {
				out.Key(sdk.KeyExt).Object()
				wrote = true
			}
			out.Key(k.Str).Value(v)
			return true
		})
		if wrote {
			out.End()
		}
	}
	if roam.IsArray() || ack.Exists() || level.Exists() {
		out.Key(sdk.KeyVendor).Object().Key(sdk.DialectEasemob).Object()
		if roam.IsArray() && !legacy {
			out.OptValue("roam_ignore_users", roam)
		}
		if ack.Exists() {
			out.KeyValue("need_group_ack", ack)
		}
		out.OptString("chatroom_msg_level", level.Str)
		out.End().End()
	}
	return nil
}

// needString is the error of a required string field that is absent,
// empty or of another type.
func needString(v gjson.Result, field string) error {
	if v.Exists() && v.Type != gjson.String && v.Type != gjson.Null {
		return sdk.BadField(field, "param %s must be a string", field)
	}
	return sdk.BadField(field, "param %s can't be empty", field)
}

// coordinate reads a latitude or longitude given as a string (as Easemob
// documents) or a number, within ±limit degrees.
func coordinate(v gjson.Result, field string, limit float64) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field, "param %s must be a number in degrees, got %q", field, v.Str)
		}
	default:
		return 0, needString(v, field)
	}
	if math.IsNaN(f) || f < -limit || f > limit {
		return 0, sdk.BadField(field, "param %s must be between -%g and %g", field, limit, limit)
	}
	return f, nil
}

// number reads an optional non-negative number, also given as a numeric
// string (the tolerance of Easemob's Java server).
func number(v gjson.Result, field string) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Null:
		return 0, nil
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field, "param %s must be a number", field)
		}
	default:
		return 0, sdk.BadField(field, "param %s must be a number", field)
	}
	if math.IsNaN(f) || f < 0 || f > 1<<53 {
		return 0, sdk.BadField(field, "param %s must be a non-negative number", field)
	}
	return f, nil
}

// validEvent checks customEvent against [a-zA-Z0-9-_/.]{1,32}.
func validEvent(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' || c == '.') {
			return false
		}
	}
	return true
}
