package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/imrelay/imrelay/proxy/migrate"
)

// defaultAdmin is the admin listener `imrelay report` asks when -admin is
// not given: the address the docs suggest for admin.addr.
const defaultAdmin = "127.0.0.1:9090"

// reportTimeout bounds the whole admin request of `imrelay report`.
const reportTimeout = 10 * time.Second

// maxReportBytes bounds the answer `imrelay report` reads.
const maxReportBytes = 64 << 20

// runReport implements `imrelay report`: it reads the migration counts of a
// running relay from its admin API and prints them as tables or JSON.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", defaultAdmin, "the relay's admin listener: `host:port`, or an http:// or https:// URL")
	asJSON := fs.Bool("json", false, "print the report as indented JSON instead of tables")
	route := fs.String("route", "", "print only the rows of this route `name`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imrelay report [-admin ADDR] [-json] [-route NAME]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Prints what the migration controls of a running relay have counted since it")
		fmt.Fprintln(stderr, "started: shadow readiness per candidate, mirror divergence, split legs and")
		fmt.Fprintln(stderr, "background jobs. It reads GET /admin/migration on the admin listener.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imrelay report: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	endpoint, err := migrationURL(*admin)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay report: -admin %q: %v\n", *admin, err)
		return 2
	}
	rep, err := fetchReport(&http.Client{Timeout: reportTimeout}, endpoint, *admin)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay report: %v\n", err)
		return 1
	}
	if *route != "" {
		all := rep.Routes()
		rep = rep.Only(*route)
		if rep.Empty() && len(all) > 0 {
			fmt.Fprintf(stderr, "imrelay report: no migration data for route %q; routes with data: %s\n",
				*route, strings.Join(all, ", "))
		}
	}
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			_, err = stdout.Write(append(b, '\n'))
		}
		if err != nil {
			fmt.Fprintf(stderr, "imrelay report: %v\n", err)
			return 1
		}
		return 0
	}
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "imrelay report: %v\n", err)
		return 1
	}
	return 0
}

// migrationURL returns the URL of the migration report for admin, a
// host:port or an http:// or https:// base URL.
func migrationURL(admin string) (string, error) {
	base := strings.TrimSpace(admin)
	if base == "" {
		return "", errors.New("want host:port or an http:// URL, e.g. " + defaultAdmin)
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("want host:port or an http:// URL, e.g. %s: %v", defaultAdmin, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("no host: want host:port or an http:// URL, e.g. " + defaultAdmin)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/admin/migration"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// fetchReport reads the migration report at endpoint. admin is the address
// as the user gave it, for the messages.
func fetchReport(client *http.Client, endpoint, admin string) (migrate.Report, error) {
	var rep migrate.Report
	resp, err := client.Get(endpoint)
	if err != nil {
		return rep, fmt.Errorf("cannot reach the relay's admin listener at %s: %v\n"+
			"Is the relay running with `-admin %s` or `admin.addr` set? Pass that address with -admin.",
			admin, unwrapURLError(err), admin)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBytes))
	if err != nil {
		return rep, fmt.Errorf("GET %s: reading the answer: %v", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("GET %s: %s", endpoint, resp.Status)
		if detail := errorDetail(body); detail != "" {
			msg += ": " + detail
		}
		if resp.StatusCode == http.StatusNotFound {
			msg += "\nIs this the admin listener of an imrelay that reports migrations? Check -admin."
		}
		return rep, errors.New(msg)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return rep, fmt.Errorf("GET %s: the answer is not a migration report (is -admin the relay's admin listener?): %v", endpoint, err)
	}
	return rep, nil
}

// errorDetail returns what an error answer says: the code and message of
// the admin API's {"error":{...}} shape, else the body itself, shortened.
func errorDetail(body []byte) string {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != nil && (e.Error.Code != "" || e.Error.Message != "") {
		switch {
		case e.Error.Code == "":
			return e.Error.Message
		case e.Error.Message == "":
			return e.Error.Code
		}
		return e.Error.Code + ": " + e.Error.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "") + "…"
	}
	return s
}

// unwrapURLError drops the "Get URL:" prefix a *url.Error adds, since the
// message names the address already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
