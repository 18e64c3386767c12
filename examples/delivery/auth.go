package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/auth/pgkeystore"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
)

// Authentication of the example, configured from the environment:
//
//	DATA_DIR             local mode: where keys live (./data)
//	DATABASE_URL         PostgreSQL: keys live in the database instead
//	TOLLGATE_KEY_SECRET  server secret for key digests (≥ 32 bytes); required with
//	                     DATABASE_URL, generated into DATA_DIR in local mode
//	OIDC_ISSUER          accept bearer tokens from this issuer (OpenID Connect discovery)
//	OIDC_AUDIENCE        the audience those tokens must name (required with OIDC_ISSUER)
//
// In local mode the demo consumer's key is created on first start and its plaintext kept in
// DATA_DIR/demo-api-key (mode 0600), so it can be printed on every start: a convenience for a
// laptop only. The store itself holds only digests; with DATABASE_URL nothing is kept in
// clear and the demo key is printed once, when it is created.

const (
	demoConsumer = "demo"
	scopeRead    = "deliveries:read"
	scopeWrite   = "deliveries:write"
)

// authPolicy makes reads need deliveries:read and writes deliveries:write.
func authPolicy() deliveries.Policy {
	return deliveries.Policy{
		Read:  []func(*huma.Operation){auth.Require(scopeRead)},
		Write: []func(*huma.Operation){auth.Require(scopeWrite)},
	}
}

// ownerOf makes each consumer see only its own deliveries.
func ownerOf(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.Consumer
	}
	return ""
}

// newAuth builds the authenticator and makes sure a demo key exists, printing it to stdout
// as "demo API key: <key>". db is the PostgreSQL pool, nil in local mode (keys in a journal
// under DATA_DIR). throttle (nil for none) slows clients that keep presenting bad
// credentials. close releases the key store.
func newAuth(ctx context.Context, getenv func(string) string, db *pgxpool.Pool, stdout io.Writer, throttle auth.Throttle) (authn *auth.Authenticator, close func(), err error) {
	var (
		store  auth.KeyStore
		secret = auth.Secret(getenv("TOLLGATE_KEY_SECRET"))
		dir    = dataDir(getenv)
		local  = db == nil
	)
	if local {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		fstore, err := auth.OpenFileKeyStore(filepath.Join(dir, "keys.jsonl"))
		if err != nil {
			return nil, nil, err
		}
		store, close = fstore, func() { _ = fstore.Close() }
		if secret == "" {
			if secret, err = localSecret(filepath.Join(dir, "key-secret")); err != nil {
				close()
				return nil, nil, err
			}
		}
	} else {
		if secret == "" {
			return nil, nil, errors.New("TOLLGATE_KEY_SECRET is required with DATABASE_URL")
		}
		pg, err := pgkeystore.New(pgkeystore.Config{Pool: db})
		if err == nil {
			err = pg.Migrate(ctx)
		}
		if err != nil {
			return nil, nil, err
		}
		store, close = pg, func() {} // the pool belongs to the caller
	}
	defer func() {
		if err != nil {
			close()
		}
	}()

	keys, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: secret})
	if err != nil {
		return nil, nil, err
	}
	cfg := auth.Config{Keys: keys, Throttle: throttle}
	if iss := getenv("OIDC_ISSUER"); iss != "" {
		cfg.JWT = &auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: iss, Audience: getenv("OIDC_AUDIENCE")}}}
	}
	if authn, err = auth.New(cfg); err != nil {
		return nil, nil, err
	}
	if err := ensureDemoKey(ctx, keys, local, dir, stdout); err != nil {
		return nil, nil, err
	}
	return authn, close, nil
}

// ensureDemoKey prints the demo consumer's key, creating it when needed.
func ensureDemoKey(ctx context.Context, keys *auth.Keys, local bool, dir string, stdout io.Writer) error {
	path := filepath.Join(dir, "demo-api-key")
	if local {
		if b, err := os.ReadFile(path); err == nil {
			key := strings.TrimSpace(string(b))
			if _, err := keys.Verify(ctx, key); err == nil {
				_, err = fmt.Fprintf(stdout, "demo API key: %s\n", key)
				return err
			}
			// Revoked, expired or from another secret: issue a fresh one below.
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else if lister, ok := keys.Store().(auth.KeyLister); ok {
		existing, err := lister.ListKeys(ctx, demoConsumer)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return nil // shown when it was created; only its digest is stored
		}
	}
	issued, err := keys.Create(ctx, auth.KeySpec{
		Consumer: demoConsumer, Plan: "free", Scopes: []string{scopeRead, scopeWrite},
	})
	if err != nil {
		return err
	}
	if local {
		if err := writePrivate(path, issued.Key.Reveal()+"\n"); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "demo API key: %s\n", issued.Key.Reveal())
	return err
}

// localSecret reads the server secret from path, creating a random one on first start.
func localSecret(path string) (auth.Secret, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return auth.Secret(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	s := base64.RawURLEncoding.EncodeToString(raw)
	if err := writePrivate(path, s+"\n"); err != nil {
		return "", err
	}
	return auth.Secret(s), nil
}

// writePrivate writes a 0600 file atomically: a crash leaves the old file or the new one,
// never an empty or partial one, because the content is synced before the rename.
func writePrivate(path, content string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
