package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a credential read from the environment or a file at load:
//
//	app_secret: {env: NETEASE_APP_SECRET}
//	aes_key:    {file: secrets/youdu.key}
//
// An inline value is refused, so a configuration can be committed and
// shared without leaking anything. A file's trailing newline is dropped; a
// relative path is relative to the configuration file. Printing a Secret
// (with fmt or slog) shows only where it comes from, never its value.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`

	value    string
	resolved bool
}

// SecretValue returns a Secret holding value, for configurations built in
// code (the embedded default, tests).
func SecretValue(value string) Secret { return Secret{value: value, resolved: true} }

// Value returns the secret; empty before the configuration is validated.
func (s Secret) Value() string { return s.value }

// String never shows the value.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "{env: " + s.Env + "}"
	case s.File != "":
		return "{file: " + s.File + "}"
	case s.resolved:
		return "[redacted]"
	}
	return "[unset]"
}

// GoString never shows the value either.
func (s Secret) GoString() string { return "config.Secret" + s.String() }

// MarshalYAML writes where the secret comes from, never its value.
func (s Secret) MarshalYAML() (any, error) {
	switch {
	case s.Env != "":
		return map[string]string{"env": s.Env}, nil
	case s.File != "":
		return map[string]string{"file": s.File}, nil
	}
	return nil, nil
}

func (s *Secret) set() bool { return s.Env != "" || s.File != "" || s.resolved }

// UnmarshalYAML accepts only the mapping forms {env: NAME} and {file: PATH}.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a secret must not be written inline: use {env: NAME} or {file: PATH}", n.Line)
	}
	*s = Secret{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s must be a string", v.Line, k.Value)
		}
		switch k.Value {
		case "env":
			s.Env = v.Value
		case "file":
			s.File = v.Value
		default:
			return fmt.Errorf("line %d: a secret has the keys env or file, not %q", k.Line, k.Value)
		}
	}
	if (s.Env == "") == (s.File == "") {
		return fmt.Errorf("line %d: a secret needs exactly one of env or file", n.Line)
	}
	return nil
}

// resolve reads the secret's value. dir resolves relative files.
func (s *Secret) resolve(v *validator, key, dir string) {
	switch {
	case s.Env != "":
		val, ok := os.LookupEnv(s.Env)
		if !ok || val == "" {
			v.add(key, "environment variable "+s.Env+" is not set", "export "+s.Env+" before starting imrelay")
			return
		}
		s.value, s.resolved = val, true
	case s.File != "":
		p := s.File
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			v.add(key, "cannot read secret file: "+err.Error(), "create the file or fix the path (relative paths start at the config file)")
			return
		}
		val := strings.TrimRight(string(b), "\r\n")
		if val == "" {
			v.add(key, "secret file "+s.File+" is empty", "write the secret into it")
			return
		}
		s.value, s.resolved = val, true
	}
}

// Size is a byte count written as a number or with a unit: 512, 64KiB,
// 1MiB, 1GiB (KB/MB/GB are read as the same powers of 1024).
type Size int64

// UnmarshalYAML parses a size.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size is a number or a string such as 1MiB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*z = v
	return nil
}

// ParseSize parses a size such as "1MiB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1MiB", s)
	}
	return Size(n * mult), nil
}
