package main

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// config is the plugin's configuration: what the runner writes under the
// middleware's plugin settings, passed to the guest as JSON.
type config struct {
	AppKey    string // the NetEase app key the requests are signed for
	AppSecret string // its secret
	Client    string // the getsender client id the peer accepts
	Token     string // and its token
	Sender    string // the NetEase sender when the message names none
}

// parseConfig reads the plugin configuration; every field is required.
func parseConfig(b []byte) (config, error) {
	if !gjson.ValidBytes(b) {
		return config{}, errors.New("traefikguest: configuration is not JSON")
	}
	r := gjson.ParseBytes(b)
	c := config{
		AppKey:    r.Get("appKey").String(),
		AppSecret: r.Get("appSecret").String(),
		Client:    r.Get("client").String(),
		Token:     r.Get("token").String(),
		Sender:    r.Get("sender").String(),
	}
	if c.AppKey == "" || c.AppSecret == "" || c.Client == "" || c.Token == "" || c.Sender == "" {
		return config{}, errors.New("traefikguest: configuration needs appKey, appSecret, client, token and sender")
	}
	return c, nil
}

// authorized reports whether a request may pass: a POST whose query
// carries the configured client and token.
func (c *config) authorized(method, uri string) bool {
	if method != "POST" || c.Client == "" {
		return false
	}
	_, query, _ := strings.Cut(uri, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(q.Get("client")), []byte(c.Client)) == 1 &&
		subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(c.Token)) == 1
}

// translateRequest turns a getsender text message into the NetEase v2
// request URI and body. When the message cannot be sent, answer is the
// getsender answer to give the client instead (and uri, body are empty).
func (c *config) translateRequest(body []byte, now time.Time) (uri string, out, answer []byte) {
	if !gjson.ValidBytes(body) {
		return "", nil, answerJSON(400, "bad json", "", now)
	}
	m := gjson.ParseBytes(body)
	user, msg := m.Get("userId").String(), m.Get("messageInfo.msg").String()
	if m.Get("messageType").Int() != 1 || user == "" || msg == "" {
		return "", nil, answerJSON(400, "want a text message", "", now)
	}
	from := m.Get("from").String()
	if from == "" {
		from = c.Sender
	}
	out, err := sjson.SetBytes([]byte(`{"message":{"message_type":0}}`), "message.text", msg)
	if err != nil {
		return "", nil, answerJSON(400, "want a text message", "", now)
	}
	return "/nimserver/im/v2/conversations/" + url.PathEscape(from+"|1|"+user) + "/messages", out, nil
}

// signature is the four headers NetEase checks: AppKey, Nonce, CurTime
// and CheckSum = hex(sha1(secret + nonce + curtime)).
func (c *config) signature(nonce string, now time.Time) [4][2]string {
	cur := strconv.FormatInt(now.Unix(), 10)
	return [4][2]string{
		{"AppKey", c.AppKey},
		{"Nonce", nonce},
		{"CurTime", cur},
		{"CheckSum", checkSum(c.AppSecret, nonce, cur)},
	}
}

func checkSum(secret, nonce, cur string) string {
	h := sha1.New()
	h.Write([]byte(secret))
	h.Write([]byte(nonce))
	h.Write([]byte(cur))
	return hex.EncodeToString(h.Sum(nil))
}

// translateResponse turns NetEase's answer into getsender's: code 200
// becomes "成功" with the message's server id, any other code is passed on
// with NetEase's msg.
func translateResponse(body []byte, now time.Time) []byte {
	if !gjson.ValidBytes(body) {
		return answerJSON(502, "bad upstream answer", "", now)
	}
	ne := gjson.ParseBytes(body)
	code := ne.Get("code").Int()
	if code == 200 {
		return answerJSON(200, "成功", strconv.FormatInt(ne.Get("data.message_server_id").Int(), 10), now)
	}
	return answerJSON(code, ne.Get("msg").String(), "", now)
}

var beijing = time.FixedZone("CST", 8*3600)

// answerJSON renders getsender's envelope; id "" is data: null. The
// operation time is Beijing time, as getsender's servers write it.
func answerJSON(code int64, message, id string, now time.Time) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, code, 10)
	b = append(b, `,"message":`...)
	b = gjson.AppendJSONString(b, message)
	if id == "" {
		b = append(b, `,"data":null`...)
	} else {
		b = append(b, `,"data":{"getMessageId":`...)
		b = gjson.AppendJSONString(b, id)
		b = append(b, '}')
	}
	b = append(b, `,"page":null,"foot":{"operationTime":"`...)
	b = now.In(beijing).AppendFormat(b, time.DateTime)
	b = append(b, `","servicePhone":"","host":"imrelay"}}`...)
	return b
}
