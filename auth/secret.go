package auth

import (
	"log/slog"
)

// Secret is a value that must never be written anywhere by accident: the server secret that
// keys API key digests, or an API key in clear when it is issued. Printing, logging or
// encoding a Secret yields "[REDACTED]"; [Secret.Reveal] returns the value for the one place
// that needs it.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret in clear.
func (s Secret) Reveal() string { return string(s) }

// String redacts the secret, so fmt and string concatenation through %v never leak it.
func (s Secret) String() string { return redacted }

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return redacted }

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText redacts the secret in JSON, YAML and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

var _ slog.LogValuer = Secret("")
