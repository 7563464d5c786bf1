package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/imrelay/imrelay/proxy/auth"
)

// The getsender → NetEase translation as a team would write it by hand in
// Go: the same output as imrelay's codecs for a text message (see the
// getsender-netease-text pair in testdata), with encoding/json.

// gsRequest is a getsender text message.
type gsRequest struct {
	MessageType int    `json:"messageType"`
	From        string `json:"from"`
	UserID      string `json:"userId"`
	MessageInfo struct {
		Msg string `json:"msg"`
	} `json:"messageInfo"`
}

// neMessage is a NetEase v2 message body.
type neMessage struct {
	Message struct {
		MessageType int    `json:"message_type"`
		Text        string `json:"text"`
	} `json:"message"`
}

// neAnswer is the part of NetEase's answer the client needs.
type neAnswer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
	Data struct {
		MessageServerID int64 `json:"message_server_id"`
	} `json:"data"`
}

// gsAnswer is getsender's answer envelope.
type gsAnswer struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    *struct {
		GetMessageID string `json:"getMessageId"`
	} `json:"data"`
	Page *struct{} `json:"page"`
	Foot struct {
		OperationTime string `json:"operationTime"`
		ServicePhone  string `json:"servicePhone"`
		Host          string `json:"host"`
	} `json:"foot"`
}

// translateGetsender turns a getsender text message into the NetEase v2
// path and body.
func translateGetsender(body []byte) (string, []byte, error) {
	var in gsRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return "", nil, fmt.Errorf("getsender body: %w", err)
	}
	if in.MessageType != 1 || in.UserID == "" || in.MessageInfo.Msg == "" {
		return "", nil, fmt.Errorf("getsender body: want a text message with userId and messageInfo.msg")
	}
	from := in.From
	if from == "" {
		from = benchSender
	}
	var out neMessage
	out.Message.Text = in.MessageInfo.Msg
	b, err := json.Marshal(&out)
	if err != nil {
		return "", nil, fmt.Errorf("netease body: %w", err)
	}
	path := "/im/v2/conversations/" + url.PathEscape(from+"|1|"+in.UserID) + "/messages"
	return path, b, nil
}

// answerGetsender turns NetEase's answer into getsender's.
func answerGetsender(body []byte, now time.Time) ([]byte, error) {
	var ne neAnswer
	if err := json.Unmarshal(body, &ne); err != nil {
		return nil, fmt.Errorf("netease answer: %w", err)
	}
	var a gsAnswer
	a.Code, a.Message = ne.Code, ne.Msg
	if ne.Code == 200 {
		a.Message = "成功"
		a.Data = &struct {
			GetMessageID string `json:"getMessageId"`
		}{strconv.FormatInt(ne.Data.MessageServerID, 10)}
	}
	a.Foot.OperationTime = now.In(beijing).Format(time.DateTime)
	a.Foot.Host = "imrelay"
	return json.Marshal(&a)
}

var beijing = time.FixedZone("CST", 8*3600)

// newGoPeer builds the peer's handler: client check, then ReverseProxy
// with the translation in Rewrite and ModifyResponse.
func newGoPeer(upstream string) (http.Handler, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("goproxy: upstream: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			body, err := io.ReadAll(pr.In.Body)
			if err != nil {
				body = nil
			}
			path, out, err := translateGetsender(body)
			if err != nil {
				path, out = "/invalid", nil
			}
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = "", ""
			pr.Out.URL.Opaque = "//" + target.Host + path
			pr.Out.URL.RawQuery = ""
			pr.Out.Body = io.NopCloser(bytes.NewReader(out))
			pr.Out.ContentLength = int64(len(out))
			pr.Out.Header.Set("Content-Length", strconv.Itoa(len(out)))
			pr.Out.Header.Set("Content-Type", "application/json;charset=UTF-8")
			var nb [8]byte
			_, _ = rand.Read(nb[:])
			nonce := hex.EncodeToString(nb[:])
			cur := strconv.FormatInt(time.Now().Unix(), 10)
			pr.Out.Header.Set("AppKey", upstreamKey)
			pr.Out.Header.Set("Nonce", nonce)
			pr.Out.Header.Set("CurTime", cur)
			pr.Out.Header.Set("CheckSum", auth.CheckSum(upstreamSecr, nonce, cur))
		},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return fmt.Errorf("goproxy: read answer: %w", err)
			}
			out, err := answerGetsender(body, time.Now())
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(out))
			resp.ContentLength = int64(len(out))
			resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
			resp.Header.Set("Content-Type", "application/json;charset=UTF-8")
			return nil
		},
		// Keep-alive to the upstream with room for every client connection:
		// the default of 2 idle connections per host would handicap it.
		Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodPost ||
			subtle.ConstantTimeCompare([]byte(q.Get("client")), []byte(benchClient)) != 1 ||
			subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(benchToken)) != 1 {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"code":401,"message":"unauthorized","data":null}`)
			return
		}
		rp.ServeHTTP(w, r)
	}), nil
}
