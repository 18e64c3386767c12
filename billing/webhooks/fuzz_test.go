package webhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/billing/webhooks"
)

// FuzzVerify feeds arbitrary Standard Webhooks headers and bodies: never a panic, and an
// acceptance only when one of the signature's entries is the real signature of id, the
// timestamp and the body.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, "1614265330", vectorSig, []byte(vectorBody))
	f.Add("", "", "", []byte{})
	f.Add("id", "99999999999999999999", "v1,"+vectorSig[3:]+" v1a,x v2", []byte("x"))
	f.Add(vectorID, "1614265330", "v1,AAAA "+vectorSig, []byte(vectorBody))
	s, err := webhooks.ParseSecret(vectorSecret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(vectorTS, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhooks.HeaderID, id)
		h.Set(webhooks.HeaderTimestamp, ts)
		h.Set(webhooks.HeaderSignature, sig)
		got, err := webhooks.Verify(h, body, now, 0, s)
		if err != nil {
			return
		}
		unix, perr := strconv.ParseInt(h.Get(webhooks.HeaderTimestamp), 10, 64)
		want := s.Sign(h.Get(webhooks.HeaderID), time.Unix(unix, 0), body)
		if perr != nil || got != h.Get(webhooks.HeaderID) || !slices.Contains(strings.Fields(h.Get(webhooks.HeaderSignature)), want) {
			t.Fatalf("accepted id=%q ts=%q sig=%q", id, ts, sig)
		}
	})
}

// FuzzVerifyStripe feeds arbitrary Stripe-Signature headers and bodies: never a panic, and
// an acceptance only when a v1 entry is the HMAC of the header's t and the body.
func FuzzVerifyStripe(f *testing.F) {
	body := []byte(`{"id":"evt_1"}`)
	ts := time.Unix(1_700_000_000, 0)
	f.Add(webhooks.SignStripe("whsec_x", ts, body), body)
	f.Add("t=1,v1=,v0=", []byte{})
	f.Add(",,,=,t=,v1=zz", []byte("x"))
	f.Add("v1=00, t=1700000000 ,"+strings.Split(webhooks.SignStripe("whsec_x", ts, body), ",")[1], body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		if webhooks.VerifyStripe(header, b, ts, 0, "whsec_x") != nil {
			return
		}
		var tv string
		var v1 []string
		for _, part := range strings.Split(header, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				tv = v
			case "v1":
				v1 = append(v1, v)
			}
		}
		m := hmac.New(sha256.New, []byte("whsec_x"))
		m.Write([]byte(tv + "."))
		m.Write(b)
		want := hex.EncodeToString(m.Sum(nil))
		if !slices.ContainsFunc(v1, func(v string) bool { return strings.EqualFold(v, want) }) {
			t.Fatalf("accepted %q", header)
		}
	})
}
