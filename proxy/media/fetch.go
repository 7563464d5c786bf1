package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Fetch failures. Each is reported to the client naming the attachment;
// none carries a credential.
var (
	// ErrHostNotAllowed: the URL's host is not in the allowed list.
	ErrHostNotAllowed = errors.New("the media host is not allowed")
	// ErrPrivateAddress: the host resolved to a private, loopback,
	// link-local or otherwise internal address that is not allowed by name.
	ErrPrivateAddress = errors.New("the media host resolves to a private address")
	// ErrTooLarge: the file is over the kind's size limit.
	ErrTooLarge = errors.New("the media file is larger than allowed")
	// ErrContentType: the bytes are not of the kind the message claims.
	ErrContentType = errors.New("the media content type does not match the message kind")
	// ErrFetch: the fetch failed (bad URL, status, network, time limit).
	ErrFetch = errors.New("the media could not be fetched")
)

// hostList matches hosts: an entry "example.com" matches that name on any
// port, "example.com:8443" that name on that port only, "*.example.com"
// any name below it. Matching ignores case.
type hostList struct {
	exact    map[string]bool
	suffixes []string
}

func newHostList(hosts []string) hostList {
	l := hostList{exact: map[string]bool{}}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if s, ok := strings.CutPrefix(h, "*."); ok {
			l.suffixes = append(l.suffixes, "."+s)
			continue
		}
		if h != "" {
			l.exact[h] = true
		}
	}
	return l
}

// has reports whether host (a name or an IP, without brackets) on port is
// listed.
func (l hostList) has(host, port string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if l.exact[host] || port != "" && l.exact[net.JoinHostPort(host, port)] {
		return true
	}
	for _, s := range l.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// internal reports whether ip must not be reached unless allowed by name.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || cgnat.Contains(ip) || (ip.Is4() && ip.As4()[0] == 0)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// blockedError is the dialer's refusal; errors.Is finds ErrPrivateAddress.
type blockedError struct{ addr string }

func (e *blockedError) Error() string { return "refusing to connect to internal address " + e.addr }
func (e *blockedError) Is(target error) bool {
	return target == ErrPrivateAddress
}

// fetcher fetches URLs under the safety rules.
type fetcher struct {
	allow   hostList
	private hostList
	client  *http.Client
}

func newFetcher(allow, private []string, connectTimeout time.Duration) *fetcher {
	f := &fetcher{allow: newHostList(allow), private: newHostList(private)}
	checked := &net.Dialer{
		Timeout: connectTimeout,
		// The resolved address is checked here, at dial time, so a name
		// that resolves to an internal address is refused whatever the
		// name looks like (DNS rebinding included).
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || internal(ap.Addr()) {
				return &blockedError{address}
			}
			return nil
		},
	}
	open := &net.Dialer{Timeout: connectTimeout}
	tr := &http.Transport{
		Proxy: nil, // never through an environment proxy: the check is on the real peer
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if f.private.has(host, port) {
				return open.DialContext(ctx, network, addr)
			}
			return checked.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	f.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return fmt.Errorf("%w: too many redirects", ErrFetch)
			}
			return f.checkURL(req.URL)
		},
	}
	return f
}

// checkURL applies the scheme and host rules.
func (f *fetcher) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: only http and https URLs are fetched", ErrFetch)
	}
	if u.User != nil {
		return fmt.Errorf("%w: URLs with credentials are not fetched", ErrFetch)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !f.allow.has(u.Hostname(), port) {
		return ErrHostNotAllowed
	}
	return nil
}

// fetched is a downloaded file.
type fetched struct {
	data        []byte
	contentType string
	name        string
}

// get fetches raw, at most limit bytes, before deadline.
func (f *fetcher) get(ctx context.Context, raw string, limit int64) (fetched, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return fetched{}, fmt.Errorf("%w: bad URL", ErrFetch)
	}
	if err := f.checkURL(u); err != nil {
		return fetched{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fetched{}, fmt.Errorf("%w: bad URL", ErrFetch)
	}
	req.Header.Set("User-Agent", "imrelay-media")
	resp, err := f.client.Do(req)
	if err != nil {
		return fetched{}, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fetched{}, fmt.Errorf("%w: HTTP %d", ErrFetch, resp.StatusCode)
	}
	if limit > 0 && resp.ContentLength > limit {
		return fetched{}, ErrTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fetched{}, classify(err)
	}
	if int64(len(data)) > limit {
		return fetched{}, ErrTooLarge
	}
	out := fetched{data: data, contentType: resp.Header.Get("Content-Type")}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		out.name = path.Base(params["filename"])
	} else if b := path.Base(resp.Request.URL.Path); b != "/" && b != "." {
		out.name = b
	}
	return out, nil
}

// classify maps a transport error onto the package's errors.
func classify(err error) error {
	switch {
	case errors.Is(err, ErrPrivateAddress), errors.Is(err, ErrHostNotAllowed), errors.Is(err, ErrFetch):
		var b *blockedError
		if errors.As(err, &b) {
			return ErrPrivateAddress
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: time limit", ErrFetch)
	}
	return fmt.Errorf("%w: %s", ErrFetch, safeText(err))
}

// safeText is an error's text without the URL (which may hold a token
// in its query).
func safeText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + " failed"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return strconv.Quote(s)
}
