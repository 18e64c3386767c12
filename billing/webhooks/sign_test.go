package webhooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing/webhooks"
)

// The test vector of the Standard Webhooks specification's reference libraries.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeaders() http.Header {
	h := http.Header{}
	h.Set(webhooks.HeaderID, vectorID)
	h.Set(webhooks.HeaderTimestamp, "1614265330")
	h.Set(webhooks.HeaderSignature, vectorSig)
	return h
}

func TestSignMatchesTheSpecVector(t *testing.T) {
	t.Parallel()
	s, err := webhooks.ParseSecret(vectorSecret)
	require.NoError(t, err)
	assert.Equal(t, vectorSig, s.Sign(vectorID, time.Unix(vectorTS, 0), []byte(vectorBody)))
	assert.Equal(t, vectorSecret, s.Reveal())
	assert.NotContains(t, s.String(), "MfKQ")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s, err := webhooks.ParseSecret(vectorSecret)
	require.NoError(t, err)
	old, err := webhooks.NewSecret()
	require.NoError(t, err)
	now := time.Unix(vectorTS+60, 0)
	body := []byte(vectorBody)

	id, err := webhooks.Verify(vectorHeaders(), body, now, 0, s)
	require.NoError(t, err)
	assert.Equal(t, vectorID, id)
	_, err = webhooks.Verify(vectorHeaders(), body, now, 0, old, s)
	assert.NoError(t, err, "any of the secrets during a rotation")

	h := vectorHeaders()
	h.Set(webhooks.HeaderSignature, "v1a,abc "+old.Sign(vectorID, time.Unix(vectorTS, 0), body)+" "+vectorSig)
	_, err = webhooks.Verify(h, body, now, 0, s)
	assert.NoError(t, err, "several signatures, one matching; unknown schemes skipped")

	for name, tc := range map[string]struct {
		edit func(http.Header)
		body string
		now  time.Time
		want error
	}{
		"wrong body":        {body: `{"test": 1}`, want: webhooks.ErrBadSignature},
		"wrong secret only": {edit: func(h http.Header) { h.Set(webhooks.HeaderSignature, old.Sign(vectorID, time.Unix(vectorTS, 0), body)) }, want: webhooks.ErrBadSignature},
		"other id":          {edit: func(h http.Header) { h.Set(webhooks.HeaderID, "msg_other") }, want: webhooks.ErrBadSignature},
		"too old":           {now: time.Unix(vectorTS+301, 0), want: webhooks.ErrTimestamp},
		"from the future":   {now: time.Unix(vectorTS-301, 0), want: webhooks.ErrTimestamp},
		"no signature":      {edit: func(h http.Header) { h.Del(webhooks.HeaderSignature) }, want: webhooks.ErrNoSignature},
		"bad timestamp":     {edit: func(h http.Header) { h.Set(webhooks.HeaderTimestamp, "-5") }, want: webhooks.ErrMalformed},
		"bad base64":        {edit: func(h http.Header) { h.Set(webhooks.HeaderSignature, "v1,@@@") }, want: webhooks.ErrMalformed},
		"short mac":         {edit: func(h http.Header) { h.Set(webhooks.HeaderSignature, "v1,AAAA") }, want: webhooks.ErrMalformed},
		"no comma":          {edit: func(h http.Header) { h.Set(webhooks.HeaderSignature, "v1") }, want: webhooks.ErrMalformed},
		"too many":          {edit: func(h http.Header) { h.Set(webhooks.HeaderSignature, strings.Repeat(vectorSig+" ", 17)) }, want: webhooks.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			h := vectorHeaders()
			if tc.edit != nil {
				tc.edit(h)
			}
			b := body
			if tc.body != "" {
				b = []byte(tc.body)
			}
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			_, err := webhooks.Verify(h, b, at, 0, s)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "whsec_AAAA"} {
		_, err := webhooks.ParseSecret(bad)
		assert.Error(t, err, bad)
	}
	s, err := webhooks.NewSecret()
	require.NoError(t, err)
	back, err := webhooks.ParseSecret(s.Reveal())
	require.NoError(t, err)
	assert.Equal(t, s.Sign("a", time.Unix(1, 0), nil), back.Sign("a", time.Unix(1, 0), nil))
	b, err := s.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "whsec_[redacted]", string(b))
}

func TestVerifyStripe(t *testing.T) {
	t.Parallel()
	const secret, rolled = "whsec_test_secret", "whsec_previous"
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	ts := time.Unix(1_700_000_000, 0)
	header := webhooks.SignStripe(secret, ts, body)
	assert.Regexp(t, `^t=1700000000,v1=[0-9a-f]{64}$`, header)

	require.NoError(t, webhooks.VerifyStripe(header, body, ts.Add(299*time.Second), 0, secret))
	require.NoError(t, webhooks.VerifyStripe(header, body, ts, 0, rolled, secret), "either secret while one is rolled")
	old := webhooks.SignStripe(rolled, ts, body)
	both := header + "," + strings.Split(old, ",")[1] + ",v0=deadbeef"
	require.NoError(t, webhooks.VerifyStripe(both, body, ts, 0, rolled), "several v1 entries; v0 ignored")

	for name, tc := range map[string]struct {
		header string
		at     time.Time
		want   error
	}{
		"expired":         {header, ts.Add(301 * time.Second), webhooks.ErrTimestamp},
		"wrong secret":    {webhooks.SignStripe("whsec_other", ts, body), ts, webhooks.ErrBadSignature},
		"no v1":           {"t=1700000000,v0=abc", ts, webhooks.ErrNoSignature},
		"no t":            {"v1=" + strings.Repeat("a", 64), ts, webhooks.ErrNoSignature},
		"two t":           {"t=1,t=2,v1=" + strings.Repeat("a", 64), ts, webhooks.ErrMalformed},
		"bad hex":         {"t=1700000000,v1=zz", ts, webhooks.ErrMalformed},
		"bad timestamp":   {"t=abc,v1=" + strings.Repeat("a", 64), ts, webhooks.ErrMalformed},
		"no equals":       {"t1700000000", ts, webhooks.ErrMalformed},
		"empty":           {"", ts, webhooks.ErrNoSignature},
		"too many fields": {strings.Repeat("x=1,", 40) + header, ts, webhooks.ErrMalformed},
	} {
		assert.ErrorIs(t, webhooks.VerifyStripe(tc.header, body, tc.at, 0, secret), tc.want, name)
	}
}
