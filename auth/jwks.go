package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Asymmetric JWS algorithms that tokens may use. HMAC ("HS256"…) and "none" are absent on
// purpose: a verifier that accepts HMAC with a key meant to be public can be fooled by anyone
// who has the public key, and "none" is no signature at all.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

const (
	maxJWKSBytes  = 1 << 20
	maxJWKSKeys   = 100
	maxKidLen     = 256
	minRSAKeyBits = 2048
)

// verifyKey is one public key of a JWK Set, pinned to the algorithms it may verify.
type verifyKey struct {
	key  crypto.PublicKey
	algs []string
}

// same reports whether o is the same key as k: equal material and the same algorithms.
func (k *verifyKey) same(o *verifyKey) bool {
	if k == o {
		return true
	}
	if k == nil || o == nil || !slices.Equal(k.algs, o.algs) {
		return false
	}
	eq, ok := k.key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(o.key)
}

type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS parses a JWK Set (RFC 7517) into the signature keys it holds, each pinned to
// the algorithms of allowed it may verify: its "alg" member when present, else those its
// key type supports (RSA: RS*/PS*; EC: the one of its curve; OKP Ed25519: EdDSA). Keys that
// are not for signatures, symmetric ("oct"), of an unknown type, weak (RSA below 2048
// bits), off their curve or with a duplicate "kid" are skipped, so one odd key does not take
// down a whole issuer. An empty allowed means every asymmetric algorithm.
//
// The result maps kid to key; a key without "kid" is under "".
func parseJWKS(data []byte, allowed []string) (map[string]*verifyKey, error) {
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", maxJWKSBytes)
	}
	if len(allowed) == 0 {
		allowed = asymmetricAlgs
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`JWK Set has no "keys" member`)
	}
	keys := make(map[string]*verifyKey)
	dup := make(map[string]bool)
	for i, raw := range doc.Keys {
		if i >= maxJWKSKeys {
			break
		}
		var j rawJWK
		if json.Unmarshal(raw, &j) != nil || len(j.Kid) > maxKidLen {
			continue
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
			continue
		}
		k, err := j.parse(allowed)
		if err != nil {
			continue
		}
		if _, seen := keys[j.Kid]; seen || dup[j.Kid] {
			// Two keys under one kid: picking either would be a guess an attacker might
			// steer, so neither is used.
			delete(keys, j.Kid)
			dup[j.Kid] = true
			continue
		}
		keys[j.Kid] = k
	}
	return keys, nil
}

func (j *rawJWK) parse(allowed []string) (*verifyKey, error) {
	var (
		key    crypto.PublicKey
		family []string
	)
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
			return nil, errors.New("weak RSA key")
		}
		key, family = pub, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case "EC":
		var curve elliptic.Curve
		var alg string
		switch j.Crv {
		case "P-256":
			curve, alg = elliptic.P256(), "ES256"
		case "P-384":
			curve, alg = elliptic.P384(), "ES384"
		case "P-521":
			curve, alg = elliptic.P521(), "ES512"
		default:
			return nil, errors.New("unsupported curve")
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC key")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, err
		}
		key, family = pub, []string{alg}
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad OKP key")
		}
		key, family = ed25519.PublicKey(x), []string{"EdDSA"}
	default:
		return nil, errors.New("unsupported key type")
	}
	var algs []string
	for _, a := range family {
		if slices.Contains(allowed, a) && (j.Alg == "" || j.Alg == a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return nil, errors.New("no allowed algorithm for key")
	}
	return &verifyKey{key: key, algs: algs}, nil
}

// b64 decodes unpadded base64url strictly, as RFC 7518 requires for key members.
func b64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=+/") {
		return nil, errors.New("not base64url")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
