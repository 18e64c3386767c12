package auth

import (
	"net/http"
	"strconv"
)

// keyError is why a presented API key failed. Its text is built only when it is read (a
// log line, OnFailure), so refusing a guess costs no formatting; it keeps only the parts of
// the key that [KeyHint] shows, never the secret, so no verb of fmt can reveal more.
type keyError struct {
	before, after string
	cause         error  // what errors.Is matches, or nil
	causeFirst    bool   // the message starts with cause's text
	head, tail    string // the key up to its secret, and its last four characters
	length        int    // the key's length, when it is not shaped like a key
}

func (e *keyError) Error() string {
	hint := "[" + strconv.Itoa(e.length) + " chars]"
	if e.head != "" {
		hint = e.head + "…" + e.tail
	}
	msg := e.before + hint + e.after
	if e.causeFirst {
		msg = e.cause.Error() + ": " + msg
	}
	return msg
}

func (e *keyError) Unwrap() error { return e.cause }

// keyFailure holds a 401 and its reason in one allocation.
type keyFailure struct {
	err    Error
	reason keyError
}

// badKey returns a 401 for the key raw (shaped as pk when pk.raw is set), with the reason
// before+hint+after. keyID names an existing key whose failures count against it.
func badKey(raw string, pk ParsedKey, keyID, before, after string, cause error) *Error {
	f := &keyFailure{
		err:    Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, keyID: keyID},
		reason: keyError{before: before, after: after, cause: cause, length: len(raw)},
	}
	if pk.raw != "" {
		f.reason.head = raw[:len(raw)-keySecretLen-keyChecksumLen]
		f.reason.tail = raw[len(raw)-4:]
	}
	f.err.Err = &f.reason
	return &f.err
}
