package clients_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/clients"
)

func ExampleNew() {
	// A payment provider that fails once, then charges.
	calls := 0
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Println("charged with key", r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusCreated)
	}))
	defer upstream.Close()

	payments, err := clients.New(clients.Config{
		Name:    "payments",
		BaseURL: upstream.URL,
		Retry:   clients.RetryConfig{BaseDelay: time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	req, _ := payments.NewRequest(context.Background(), http.MethodPost, "/v1/charges", strings.NewReader(`{"cents":499}`))
	req.Header.Set("Idempotency-Key", "order-42") // without it, a POST is never repeated
	resp, err := payments.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", calls, "attempts")
	// Output:
	// charged with key order-42
	// 201 after 2 attempts
}

func ExampleClient_Do() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"title":"Invalid phone number","status":422}`)
	}))
	defer upstream.Close()

	sms, _ := clients.New(clients.Config{Name: "sms", BaseURL: upstream.URL})
	req, _ := sms.NewRequest(context.Background(), http.MethodPost, "/v1/messages", strings.NewReader(`{"to":"123"}`))
	_, err := sms.Do(req)
	var e *clients.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Problem.Title, errors.Is(err, clients.ErrStatus))
	}
	// Output: 422 Invalid phone number true
}

func ExampleClient_HTTPClient() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"stock":12}`)
	}))
	defer upstream.Close()

	inventory, _ := clients.New(clients.Config{Name: "inventory", BaseURL: upstream.URL})
	// An ordinary *http.Client: code that expects one needs no change.
	resp, err := inventory.HTTPClient().Get(upstream.URL + "/v1/stock/MILK-2L")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}

func ExampleCheckResponse() {
	resp := &http.Response{
		StatusCode: http.StatusTooManyRequests,
		Header:     http.Header{"Content-Type": {"application/problem+json"}},
		Body:       io.NopCloser(strings.NewReader(`{"title":"Too Many Requests","detail":"slow down"}`)),
	}
	err := clients.CheckResponse("sms", resp)
	fmt.Println(err)
	// Output: clients: sms: status 429: Too Many Requests slow down
}

func ExampleClient_Transport() {
	c, _ := clients.New(clients.Config{Name: "inventory"})
	// Any code that takes an http.Client or a RoundTripper gets retries and breakers.
	hc := &http.Client{Transport: c.Transport(), Timeout: 10 * time.Second}
	_ = hc
}

// A client for URLs that users supply (webhooks): the guard refuses internal addresses
// after DNS resolution, so "http://metadata.internal/" or a name that resolves to
// 169.254.169.254 cannot be reached, and redirects are off.
func ExampleGuard() {
	webhooks, _ := clients.New(clients.Config{Name: "webhooks", Guard: &clients.Guard{}})
	req, _ := http.NewRequest(http.MethodPost, "http://169.254.169.254/latest/meta-data/", nil)
	_, err := webhooks.Do(req)
	fmt.Println(errors.Is(err, clients.ErrBlockedAddress))
	// Output: true
}

func ExampleStatusError() {
	err := fmt.Errorf("charge: %w", &clients.Error{Upstream: "payments", Err: clients.ErrCircuitOpen})
	se := clients.StatusError(err)
	fmt.Println(se.GetStatus(), se.Error())
	// Output: 503 upstream service unavailable, try again later
}
