package emu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"
)

// InboxPage is the answer of GET /_sandbox/inbox.
type InboxPage struct {
	Vendor   string    `json:"vendor"`
	Count    int       `json:"count"`
	Dropped  int64     `json:"dropped"`
	Messages []Message `json:"messages"`
}

// adminError is the one error shape of the admin surface.
type adminError struct {
	Error string `json:"error"`
}

func (c *Core) admin(ctx *fasthttp.RequestCtx, info func() any) {
	path := string(ctx.Path())
	method := string(ctx.Method())
	switch path {
	case Prefix + "inbox":
		switch method {
		case fasthttp.MethodGet:
			f, err := parseFilter(ctx.QueryArgs())
			if err != nil {
				WriteJSON(ctx, fasthttp.StatusBadRequest, adminError{err.Error()})
				return
			}
			msgs := c.Inbox.List(f)
			WriteJSON(ctx, fasthttp.StatusOK, InboxPage{
				Vendor: c.Vendor, Count: len(msgs), Dropped: c.Inbox.Dropped(), Messages: msgs,
			})
		case fasthttp.MethodDelete:
			WriteJSON(ctx, fasthttp.StatusOK, map[string]int{"cleared": c.Inbox.Clear()})
		default:
			notAllowed(ctx, "GET, DELETE")
		}
	case Prefix + "faults":
		switch method {
		case fasthttp.MethodGet:
			WriteJSON(ctx, fasthttp.StatusOK, c.Faults.Get())
		case fasthttp.MethodPut:
			var f Faults
			dec := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				WriteJSON(ctx, fasthttp.StatusBadRequest, adminError{fmt.Sprintf("emu: faults: %v", err)})
				return
			}
			if err := c.Faults.Set(f); err != nil {
				WriteJSON(ctx, fasthttp.StatusBadRequest, adminError{err.Error()})
				return
			}
			WriteJSON(ctx, fasthttp.StatusOK, c.Faults.Get())
		case fasthttp.MethodDelete:
			c.Faults.Reset()
			WriteJSON(ctx, fasthttp.StatusOK, c.Faults.Get())
		default:
			notAllowed(ctx, "GET, PUT, DELETE")
		}
	case Prefix + "media":
		if method != fasthttp.MethodGet {
			notAllowed(ctx, "GET")
			return
		}
		WriteJSON(ctx, fasthttp.StatusOK, map[string]any{"vendor": c.Vendor, "media": c.Media.List()})
	case Prefix + "stats":
		if method != fasthttp.MethodGet {
			notAllowed(ctx, "GET")
			return
		}
		WriteJSON(ctx, fasthttp.StatusOK, c.Faults.Stats())
	case Prefix + "info":
		if method != fasthttp.MethodGet {
			notAllowed(ctx, "GET")
			return
		}
		var v any = map[string]string{"vendor": c.Vendor}
		if info != nil {
			v = info()
		}
		WriteJSON(ctx, fasthttp.StatusOK, v)
	default:
		WriteJSON(ctx, fasthttp.StatusNotFound, adminError{"emu: no admin resource " + strconv.Quote(path) +
			"; try inbox, faults, stats or info"})
	}
}

func notAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	WriteJSON(ctx, fasthttp.StatusMethodNotAllowed, adminError{"emu: method not allowed; use " + allow})
}

func parseFilter(a *fasthttp.Args) (Filter, error) {
	f := Filter{To: string(a.Peek("to")), Type: string(a.Peek("type"))}
	if s := a.Peek("since"); len(s) > 0 {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || n < 0 {
			return f, fmt.Errorf("emu: since %q: want a sequence number", s)
		}
		f.Since = n
	}
	return f, nil
}
