package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/imrelay/imrelay/sdk/abi"
)

// ErrCase is returned for a case file that cannot be read as a case.
var ErrCase = errors.New("sdktest: malformed case")

// Case is one golden case: a comment and named sections, in file order.
type Case struct {
	// Name is the case's name in test output: its path under the case
	// directory, without ".txt".
	Name string
	// File is the path the case was read from ("" if parsed from bytes).
	File string
	// Comment is the text before the first section.
	Comment  string
	Sections []Section
}

// Section is one "-- name --" section of a case. Body is the text up to
// the next section, including its final newline.
type Section struct {
	Name, Body string
}

// sectionNames lists every section a case may have.
var sectionNames = map[string]bool{
	"hook": true, "config": true, "options": true,
	"method": true, "path": true, "query": true, "content-type": true, "body": true,
	"batch": true, "responses": true, "results": true, "client-body": true,
	"want": true, "want-error": true,
}

// hookInit is the name of the pseudo-hook that runs the plugin's Init with
// the case's config.
const hookInit = "init"

// ParseCase reads a case file: optional comment lines, then sections that
// each start with a line "-- name --". A section's value is its text with
// the final newline removed; write an extra blank line to keep one.
func ParseCase(data []byte) (*Case, error) {
	c := &Case{}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	cur := -1
	var comment strings.Builder
	for len(text) > 0 {
		line, rest, found := strings.Cut(text, "\n")
		full := line
		if found {
			full += "\n"
		}
		text = rest
		if name, ok := sectionMarker(line); ok {
			if !sectionNames[name] {
				return nil, fmt.Errorf("%w: unknown section %q", ErrCase, name)
			}
			if _, dup := c.section(name); dup {
				return nil, fmt.Errorf("%w: section %q appears twice", ErrCase, name)
			}
			c.Sections = append(c.Sections, Section{Name: name})
			cur = len(c.Sections) - 1
			continue
		}
		if cur < 0 {
			comment.WriteString(full)
		} else {
			c.Sections[cur].Body += full
		}
	}
	c.Comment = comment.String()
	if _, ok := c.section("want"); ok {
		if _, ok := c.section("want-error"); ok {
			return nil, fmt.Errorf("%w: both want and want-error", ErrCase)
		}
	}
	return c, nil
}

// sectionMarker recognises a line "-- name --".
func sectionMarker(line string) (string, bool) {
	if !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") || len(line) < 7 {
		return "", false
	}
	return strings.TrimSpace(line[3 : len(line)-3]), true
}

// Format returns the case as file text: the inverse of ParseCase.
func (c *Case) Format() []byte {
	var b bytes.Buffer
	b.WriteString(c.Comment)
	for _, s := range c.Sections {
		fmt.Fprintf(&b, "-- %s --\n", s.Name)
		b.WriteString(s.Body)
		if s.Body != "" && !strings.HasSuffix(s.Body, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func (c *Case) section(name string) (int, bool) {
	for i, s := range c.Sections {
		if s.Name == name {
			return i, true
		}
	}
	return -1, false
}

// Value returns a section's value (its text without the final newline) and
// whether the case has it.
func (c *Case) Value(name string) (string, bool) {
	i, ok := c.section(name)
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(c.Sections[i].Body, "\n"), true
}

// SetWant replaces the expectation of the case by a want (isErr false) or a
// want-error section holding text, where the old one was.
func (c *Case) SetWant(text string, isErr bool) {
	name := "want"
	if isErr {
		name = "want-error"
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	at := len(c.Sections)
	kept := c.Sections[:0]
	for _, s := range c.Sections {
		if s.Name == "want" || s.Name == "want-error" {
			at = len(kept)
			continue
		}
		kept = append(kept, s)
	}
	at = min(at, len(kept))
	c.Sections = append(kept[:at], append([]Section{{Name: name, Body: text}}, kept[at:]...)...)
}

// HookName returns the hook the case runs: the hook section, or else the
// name of the directory holding the case file.
func (c *Case) HookName() string {
	if v, ok := c.Value("hook"); ok {
		return strings.TrimSpace(v)
	}
	if i := strings.LastIndexByte(c.Name, '/'); i >= 0 {
		dir := c.Name[:i]
		return dir[strings.LastIndexByte(dir, '/')+1:]
	}
	return ""
}

// Hook returns the ABI hook the case runs. It fails for an unknown name and
// for "init", which is not an ABI hook.
func (c *Case) Hook() (abi.Hook, error) {
	name := c.HookName()
	for h := abi.HookDecodeRequest; h <= abi.HookTransform; h++ {
		if h.String() == name {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown hook %q (want decode_request, encode_request, decode_response, encode_response, transform or init)", ErrCase, name)
}

// Config returns the plugin configuration of the case (the config section,
// byte for byte without its final newline; empty when absent).
func (c *Case) Config() []byte {
	v, _ := c.Value("config")
	return []byte(v)
}

// Input returns the hook's input frame, built from the case's sections:
// options, batch and results are compacted as the host sends them (when
// they are valid JSON; otherwise passed as written, to test bad input);
// bodies are passed byte for byte.
func (c *Case) Input() ([]byte, error) {
	h, err := c.Hook()
	if err != nil {
		return nil, err
	}
	get := func(name, def string) string {
		if v, ok := c.Value(name); ok {
			return v
		}
		return def
	}
	opts := compactJSON(strings.TrimSpace(get("options", "{}")))
	batch := compactJSON(get("batch", ""))
	var fields []string
	switch h {
	case abi.HookDecodeRequest:
		fields = []string{opts,
			strings.TrimSpace(get("method", "POST")),
			strings.TrimSpace(get("path", "/")),
			strings.TrimSpace(get("query", "")),
			strings.TrimSpace(get("content-type", "application/json")),
			get("body", "")}
	case abi.HookEncodeRequest, abi.HookTransform:
		fields = []string{opts, batch}
	case abi.HookDecodeResponse:
		answers, err := responsesFrame(get("responses", ""))
		if err != nil {
			return nil, err
		}
		fields = []string{opts, batch, string(answers)}
	case abi.HookEncodeResponse:
		fields = []string{opts, batch, compactJSON(get("results", "")), get("client-body", "")}
	}
	in := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		in = abi.AppendFieldString(in, f)
	}
	return in, nil
}

func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

// block is one HTTP-like block of a case: an optional first line
// ("POST /path?query"), header lines "name: value", a blank line and a body.
type block struct {
	first   string
	headers []header
	body    string
}

type header struct{ name, value string }

func (b *block) get(name string) (string, bool) {
	for _, h := range b.headers {
		if h.name == name {
			return h.value, true
		}
	}
	return "", false
}

// blockSeparator is the line between blocks.
const blockSeparator = "==="

// splitBlocks splits text at lines "===". Empty text has no blocks.
func splitBlocks(text string) []string {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var out []string
	var cur []string
	for _, line := range strings.Split(text, "\n") {
		if line == blockSeparator {
			out = append(out, strings.Join(cur, "\n"))
			cur = cur[:0]
			continue
		}
		cur = append(cur, line)
	}
	return append(out, strings.Join(cur, "\n"))
}

// parseBlock reads one block. withFirst says whether its first line is a
// request line rather than a header.
func parseBlock(text string, withFirst bool) (block, error) {
	var b block
	lines := strings.Split(text, "\n")
	i := 0
	if withFirst {
		for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
			i++
		}
		if i == len(lines) {
			return b, fmt.Errorf("%w: empty request block", ErrCase)
		}
		b.first = strings.TrimSpace(lines[i])
		i++
	}
	for ; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			i++
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return b, fmt.Errorf("%w: header line %q has no ':' (a blank line must separate headers from the body)", ErrCase, line)
		}
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return b, fmt.Errorf("%w: header %s: %v", ErrCase, name, err)
			}
			value = uq
		}
		b.headers = append(b.headers, header{strings.ToLower(strings.TrimSpace(name)), value})
	}
	if i < len(lines) {
		b.body = strings.Join(lines[i:], "\n")
	}
	return b, nil
}

// headerValue renders a header value so parseBlock reads it back: quoted
// when it is empty, starts with a quote, has spaces at either end or holds
// characters that are not printable (newlines, tabs, control bytes).
func headerValue(v string) string {
	if v == "" || strings.HasPrefix(v, `"`) || v != strings.TrimSpace(v) || !isPrintable(v) {
		return strconv.Quote(v)
	}
	return v
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// responsesFrame builds the frame of provider answers of HookDecodeResponse
// from a responses section.
func responsesFrame(text string) ([]byte, error) {
	blocks := splitBlocks(text)
	out := abi.AppendFrame(nil, len(blocks))
	for i, t := range blocks {
		b, err := parseBlock(t, false)
		if err != nil {
			return nil, fmt.Errorf("response %d: %w", i, err)
		}
		status, ok := b.get("status")
		if !ok {
			status = "200"
		}
		if _, err := strconv.Atoi(status); err != nil {
			return nil, fmt.Errorf("%w: response %d: status %q is not a number", ErrCase, i, status)
		}
		tag, _ := b.get("tag")
		ct, ok := b.get("content-type")
		if !ok {
			ct = "application/json"
		}
		var mark int
		out, mark = abi.BeginField(out)
		out = abi.AppendFrame(out, abi.ResponseFields)
		field := [abi.ResponseFields]string{}
		field[abi.ResponseFieldTag] = tag
		field[abi.ResponseFieldStatus] = status
		field[abi.ResponseFieldContentType] = ct
		field[abi.ResponseFieldBody] = b.body
		for _, f := range field {
			out = abi.AppendFieldString(out, f)
		}
		out = abi.EndField(out, mark)
	}
	return out, nil
}
