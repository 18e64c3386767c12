package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
)

// Key is what a consumer is shown of one of its keys: never the secret, nor its digest.
type Key struct {
	ID         string    `json:"id" doc:"Public key id"`
	Hint       string    `json:"hint" doc:"The key's prefix, id and last four characters" example:"tg_live_3cRq1xZk9mWd…f1Q2"`
	Scopes     []string  `json:"scopes"`
	Status     string    `json:"status" enum:"active,expiring,expired,revoked,disabled" doc:"expiring: replaced, working until its grace ends"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires,omitzero"`
	Revoked    time.Time `json:"revoked,omitzero"`
	ReplacedBy string    `json:"replaced_by,omitempty" doc:"Id of the key that replaced this one"`
}

// IssuedKey is a key just created; Key is its secret, shown this once.
type IssuedKey struct {
	Key
	Secret string `json:"key" doc:"The API key. Shown once: store it now; it cannot be read again"`
}

func view(sk auth.StoredKey, now time.Time) Key {
	k := Key{ID: sk.ID, Hint: sk.Hint, Scopes: sk.Scopes, Created: sk.Created, Expires: sk.Expires, Revoked: sk.Revoked, ReplacedBy: sk.ReplacedBy, Status: "active"}
	switch {
	case !sk.Revoked.IsZero() && !now.Before(sk.Revoked):
		k.Status = "revoked"
	case sk.Disabled:
		k.Status = "disabled"
	case !sk.Expires.IsZero() && !now.Before(sk.Expires):
		k.Status = "expired"
	case sk.ReplacedBy != "":
		k.Status = "expiring"
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	return k
}

func live(k Key) bool { return k.Status == "active" || k.Status == "expiring" }

// KeyList is a consumer's keys and the scopes it may put on new ones.
type KeyList struct {
	Keys          []Key    `json:"keys"`
	AllowedScopes []string `json:"allowed_scopes" doc:"Scopes the caller may put on a new key"`
}

type keysOutput struct {
	Body KeyList
}

// NewKey asks for a key.
type NewKey struct {
	Scopes []string `json:"scopes" minItems:"1" maxItems:"32" doc:"Scopes of the new key, within allowed_scopes"`
	// ExpiresInDays, when set, makes the key stop working after that many days.
	ExpiresInDays int `json:"expires_in_days,omitempty" minimum:"0" maximum:"3650" doc:"Days until the key stops working; 0 means never"`
}

type createKeyInput struct {
	Body NewKey
}

type keyIDInput struct {
	ID string `path:"id" minLength:"1" maxLength:"64" pattern:"^[0-9A-Za-z]+$" doc:"Key id"`
}

// Rotation asks to replace a key.
type Rotation struct {
	GraceSeconds int64 `json:"grace_seconds,omitempty" minimum:"0" doc:"How long the old key keeps working; 0 ends it now"`
}

type rotateInput struct {
	ID   string `path:"id" minLength:"1" maxLength:"64" pattern:"^[0-9A-Za-z]+$" doc:"Key id"`
	Body Rotation
}

type issuedOutput struct {
	Body IssuedKey
}

// RegisterKeys adds the caller's key operations to api: GET and POST /me/keys, POST
// /me/keys/{id}/rotate and DELETE /me/keys/{id}. Every operation acts on the
// authenticated consumer's keys only: another consumer's key id answers 404, like an
// unknown one. modifiers apply to each operation (auth.Require, rate limits).
func (p *Portal) RegisterKeys(api huma.API, modifiers ...func(*huma.Operation)) {
	op := operation(modifiers, "Keys")
	huma.Register(api, op("listMyKeys", http.MethodGet, "/me/keys", "List your API keys"),
		func(ctx context.Context, _ *struct{}) (*keysOutput, error) {
			caller, err := callerOf(ctx)
			if err != nil {
				return nil, err
			}
			return p.listKeys(ctx, caller)
		})
	huma.Register(api, withStatus(http.StatusCreated, op("createMyKey", http.MethodPost, "/me/keys", "Create an API key (its secret is shown once)", http.StatusConflict)),
		func(ctx context.Context, in *createKeyInput) (*issuedOutput, error) {
			caller, err := callerOf(ctx)
			if err != nil {
				return nil, err
			}
			allowed, err := p.allowedScopes(ctx, caller)
			if err != nil {
				return nil, unavailable(err)
			}
			var bad []error
			for i, s := range in.Body.Scopes {
				if !slices.Contains(allowed, s) {
					bad = append(bad, &huma.ErrorDetail{Message: "scope not allowed on your plan", Location: fmt.Sprintf("body.scopes[%d]", i), Value: s})
				}
			}
			if len(bad) > 0 {
				return nil, huma.Error422UnprocessableEntity("scopes outside what your plan allows", bad...)
			}
			n, err := p.liveKeys(ctx, caller.Consumer)
			if err != nil {
				return nil, unavailable(err)
			}
			if n >= p.maxKeys {
				return nil, huma.Error409Conflict(fmt.Sprintf("you have %d live keys, the most allowed; revoke one first", n))
			}
			spec := auth.KeySpec{Consumer: caller.Consumer, Tenant: caller.Tenant, Plan: caller.Plan, Scopes: dedupe(in.Body.Scopes)}
			if d := in.Body.ExpiresInDays; d > 0 {
				spec.Expires = p.now().AddDate(0, 0, d).UTC()
			}
			issued, err := p.keys.Create(ctx, spec)
			if err != nil {
				return nil, unavailable(err)
			}
			return &issuedOutput{Body: IssuedKey{Key: view(issued.Stored, p.now()), Secret: issued.Key.Reveal()}}, nil
		})
	huma.Register(api, withStatus(http.StatusCreated, op("rotateMyKey", http.MethodPost, "/me/keys/{id}/rotate", "Replace a key, keeping the old one working through a grace period", http.StatusNotFound, http.StatusConflict)),
		func(ctx context.Context, in *rotateInput) (*issuedOutput, error) {
			caller, err := callerOf(ctx)
			if err != nil {
				return nil, err
			}
			grace := time.Duration(in.Body.GraceSeconds) * time.Second
			if grace > p.maxGrace || in.Body.GraceSeconds > int64(p.maxGrace/time.Second) {
				return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("grace_seconds over the %d allowed", int64(p.maxGrace/time.Second)),
					&huma.ErrorDetail{Location: "body.grace_seconds", Value: in.Body.GraceSeconds})
			}
			if _, err := p.ownKey(ctx, caller.Consumer, in.ID); err != nil {
				return nil, err
			}
			issued, err := p.keys.Rotate(ctx, in.ID, grace)
			if err != nil {
				if errors.Is(err, auth.ErrUnavailable) {
					return nil, unavailable(err)
				}
				return nil, huma.Error409Conflict("this key cannot be rotated: it is revoked, expired, disabled or already replaced")
			}
			return &issuedOutput{Body: IssuedKey{Key: view(issued.Stored, p.now()), Secret: issued.Key.Reveal()}}, nil
		})
	huma.Register(api, withStatus(http.StatusNoContent, op("revokeMyKey", http.MethodDelete, "/me/keys/{id}", "Revoke a key now", http.StatusNotFound)),
		func(ctx context.Context, in *keyIDInput) (*struct{}, error) {
			caller, err := callerOf(ctx)
			if err != nil {
				return nil, err
			}
			if _, err := p.ownKey(ctx, caller.Consumer, in.ID); err != nil {
				return nil, err
			}
			if err := p.keys.Revoke(ctx, in.ID); err != nil {
				return nil, unavailable(err)
			}
			return nil, nil
		})
}

func (p *Portal) listKeys(ctx context.Context, caller *auth.Principal) (*keysOutput, error) {
	stored, err := p.lister.ListKeys(ctx, caller.Consumer)
	if err != nil {
		return nil, unavailable(err)
	}
	out := &keysOutput{}
	now := p.now()
	out.Body.Keys = make([]Key, 0, len(stored))
	for _, sk := range stored {
		out.Body.Keys = append(out.Body.Keys, view(sk, now))
	}
	if out.Body.AllowedScopes, err = p.allowedScopes(ctx, caller); err != nil {
		return nil, unavailable(err)
	}
	if out.Body.AllowedScopes == nil {
		out.Body.AllowedScopes = []string{}
	}
	return out, nil
}

func (p *Portal) liveKeys(ctx context.Context, consumer string) (int, error) {
	stored, err := p.lister.ListKeys(ctx, consumer)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sk := range stored {
		if live(view(sk, p.now())) {
			n++
		}
	}
	return n, nil
}

// ownKey returns the consumer's key id, or 404 when it is unknown or someone else's.
func (p *Portal) ownKey(ctx context.Context, consumer, id string) (auth.StoredKey, error) {
	sk, err := p.keys.Store().Key(ctx, id)
	if errors.Is(err, auth.ErrKeyNotFound) || (err == nil && sk.Consumer != consumer) {
		return auth.StoredKey{}, huma.Error404NotFound("no such key")
	}
	if err != nil {
		return auth.StoredKey{}, unavailable(err)
	}
	return sk, nil
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func callerOf(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Consumer == "" {
		return nil, huma.Error401Unauthorized("authentication required")
	}
	return p, nil
}

// unavailable answers 503 for a backend failure, without its details: they are for logs
// (the observe middleware records the error on the span), not for clients.
func unavailable(error) error {
	return huma.Error503ServiceUnavailable("the portal's backend is temporarily unavailable")
}

// operation builds operations with the modifiers applied, in a tag.
func operation(modifiers []func(*huma.Operation), tag string) func(id, method, path, summary string, errs ...int) huma.Operation {
	return func(id, method, path, summary string, errs ...int) huma.Operation {
		o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag}, Errors: errs}
		for _, m := range modifiers {
			m(&o)
		}
		return o
	}
}

func withStatus(status int, o huma.Operation) huma.Operation {
	o.DefaultStatus = status
	return o
}
