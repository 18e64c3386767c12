package ratelimit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file parses the subset of RFC 8941 structured fields that the RateLimit headers use:
// a List of Items whose bare item is a String or Token, with Parameters whose values are
// Integers, Strings, Tokens, Byte Sequences or Booleans. Inner lists and decimals are not
// used by the headers and are rejected.

var errSyntax = errors.New("ratelimit: malformed structured field")

type sfParam struct {
	key   string
	str   string // String or Token value
	num   int64
	bytes []byte
	kind  byte // 'i', 's', 'b' (bytes), '?' (boolean, num 0/1)
}

type sfItem struct {
	value  string
	params []sfParam
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, p.i)
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// parseList parses an sf-list (RFC 8941 section 4.2.1).
func parseList(s string) ([]sfItem, error) {
	p := &sfParser{s: s}
	p.skipSP()
	var items []sfItem
	for p.i < len(p.s) {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		p.skipOWS()
		if p.i >= len(p.s) {
			return items, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.i >= len(p.s) {
			return nil, p.fail("trailing ','")
		}
	}
	return items, nil
}

func (p *sfParser) item() (sfItem, error) {
	var it sfItem
	if p.i >= len(p.s) {
		return it, p.fail("expected item")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		v, err := p.str()
		if err != nil {
			return it, err
		}
		it.value = v
	case isAlpha(c) || c == '*':
		it.value = p.token()
	default:
		return it, p.fail("expected a string or token")
	}
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return it, err
		}
		param := sfParam{key: key, kind: '?', num: 1}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if param, err = p.bareParam(key); err != nil {
				return it, err
			}
		}
		// Later duplicates overwrite earlier ones (RFC 8941 section 4.2.3.2).
		replaced := false
		for j := range it.params {
			if it.params[j].key == key {
				it.params[j], replaced = param, true
			}
		}
		if !replaced {
			it.params = append(it.params, param)
		}
	}
	return it, nil
}

func (p *sfParser) bareParam(key string) (sfParam, error) {
	param := sfParam{key: key}
	if p.i >= len(p.s) {
		return param, p.fail("expected a value")
	}
	c := p.s[p.i]
	switch {
	case c == '-' || isDigit(c):
		n, err := p.integer()
		param.kind, param.num = 'i', n
		return param, err
	case c == '"':
		v, err := p.str()
		param.kind, param.str = 's', v
		return param, err
	case isAlpha(c) || c == '*':
		param.kind, param.str = 's', p.token()
		return param, nil
	case c == ':':
		b, err := p.byteSeq()
		param.kind, param.bytes = 'b', b
		return param, err
	case c == '?':
		if p.i+1 >= len(p.s) || (p.s[p.i+1] != '0' && p.s[p.i+1] != '1') {
			return param, p.fail("malformed boolean")
		}
		param.kind, param.num = '?', int64(p.s[p.i+1]-'0')
		p.i += 2
		return param, nil
	}
	return param, p.fail("unsupported value")
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !(isLower(p.s[p.i]) || p.s[p.i] == '*') {
		return "", p.fail("expected a parameter key")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(isLower(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) integer() (int64, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	if n := p.i - digits; n == 0 || n > 15 {
		return 0, p.fail("integer must have 1 to 15 digits")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		return 0, p.fail("decimals are not used by these fields")
	}
	return strconv.ParseInt(p.s[start:p.i], 10, 64)
}

func (p *sfParser) str() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", p.fail("bad escape in string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.fail("invalid character in string")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.fail("unterminated string")
}

func (p *sfParser) token() string {
	start := p.i
	p.i++
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *sfParser) byteSeq() ([]byte, error) {
	p.i++
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return nil, p.fail("unterminated byte sequence")
	}
	raw := p.s[p.i : p.i+end]
	p.i += end + 1
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, p.fail("invalid base64")
	}
	return b, nil
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isTokenChar reports whether c is a tchar, ':' or '/' (RFC 8941 section 3.3.4).
func isTokenChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

// appendString appends s as an sf-string; names are validated as printable ASCII.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
