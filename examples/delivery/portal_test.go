package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

// TestSelfService: the demo consumer creates, uses and revokes a key through the API the
// portal page calls; another consumer, created by the provider, can touch none of it; the
// created secrets appear in no log line and no span.
func TestSelfService(t *testing.T) {
	t.Parallel()
	s := newStackEnv(t, map[string]string{"DATA_DIR": t.TempDir(), "TRACE_STDOUT": "true"})
	defer s.stop()
	const ip = "198.51.100.40"

	rec := s.do(http.MethodGet, "/v1/me/keys", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var list struct {
		Keys []struct {
			ID, Hint, Status string
		}
		AllowedScopes []string `json:"allowed_scopes"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	assert.ElementsMatch(t, []string{"deliveries:read", "deliveries:write"}, list.AllowedScopes)

	rec = s.do(http.MethodPost, "/v1/me/keys", s.key, ip, map[string]any{"scopes": []string{"deliveries:read"}})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created struct{ ID, Key string }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/v1/deliveries", created.Key, ip, nil).Code, "the new key works")
	assert.Equal(t, http.StatusForbidden, s.do(http.MethodPost, "/v1/deliveries", created.Key, ip, newDelivery).Code, "with the scopes it was given only")
	assert.Equal(t, http.StatusUnprocessableEntity,
		s.do(http.MethodPost, "/v1/me/keys", s.key, ip, map[string]any{"scopes": []string{"tollgate:admin"}}).Code, "no key beyond what the consumer may grant")

	require.Equal(t, http.StatusNoContent, s.do(http.MethodDelete, "/v1/me/keys/"+created.ID, s.key, ip, nil).Code)
	assert.Equal(t, http.StatusUnauthorized, s.do(http.MethodGet, "/v1/deliveries", created.Key, ip, nil).Code, "revoked: refused at once")

	rec = s.do(http.MethodGet, "/v1/me/usage/days", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var days struct {
		Days []struct {
			Date  string
			Usage map[string]int64
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &days))
	require.Len(t, days.Days, 30)
	assert.Equal(t, time.Now().UTC().Format(time.DateOnly), days.Days[29].Date)
	assert.Positive(t, days.Days[29].Usage["requests"], "the calls just made are on today's bar")

	// Another consumer's key ids are 404 to the demo consumer, on every operation.
	other := issueKey(t, s, "acme-logistics", "deliveries:read")
	rec = s.do(http.MethodGet, "/v1/me/keys", other, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var theirs struct{ Keys []struct{ ID string } }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &theirs))
	require.Len(t, theirs.Keys, 1)
	id := theirs.Keys[0].ID
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodDelete, "/v1/me/keys/"+id, s.key, ip, nil).Code)
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/me/keys/"+id+"/rotate", s.key, ip, map[string]any{}).Code)
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/v1/deliveries", other, ip, nil).Code, "their key is untouched")
	assert.Equal(t, http.StatusForbidden, s.do(http.MethodGet, "/v1/admin/consumers/acme-logistics/keys", s.key, ip, nil).Code,
		"provider operations need the admin scope")

	// The secrets were in their one response each, and in no log line or span.
	out := s.out.String()
	assert.Contains(t, out, `"trace_id"`, "spans and logs were written")
	for _, secret := range []string{created.Key, other} {
		assert.NotContains(t, out, secret[len(secret)-30:])
	}

	// The page is served with its strict policy.
	rec = s.do(http.MethodGet, "/portal/", "", ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
	assert.True(t, strings.Contains(rec.Body.String(), `data-api="/v1"`))
}

// issueKey creates a consumer with a provider key, as an operator would through the admin
// operations, and returns the consumer's first key.
func issueKey(t *testing.T, s *stack, consumer string, scopes ...string) string {
	t.Helper()
	issued, err := s.a.keys.Create(t.Context(), auth.KeySpec{Consumer: "operator", Scopes: []string{"tollgate:admin"}})
	require.NoError(t, err)
	rec := s.do(http.MethodPost, "/v1/admin/consumers", issued.Key.Reveal(), "198.51.100.41", map[string]any{"consumer": consumer, "scopes": scopes})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out struct{ Key struct{ Key string } }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out.Key.Key
}
