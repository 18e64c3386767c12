package clients

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// beforeAttempt counts attempts; retryablehttp calls it before each one.
func (c *Client) beforeAttempt(_ retryablehttp.Logger, req *http.Request, i int) {
	if st := callFrom(req.Context()); st != nil {
		st.attempts = i + 1
	}
}

// checkRetry decides whether to retry and, when it does, waits. Waiting here rather than
// in retryablehttp's Backoff hook is what lets the wait honour the caller's deadline (no
// retry that cannot finish in time) and the budget (no token, no wait), which Backoff,
// given no context, cannot.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := callFrom(ctx)
	if st == nil {
		return false, nil
	}
	c.tel.attempt(st.Context, st.span, st.attempts, resp, err)
	if st.Context.Err() == nil && (err != nil && !errors.Is(err, ErrBlockedAddress) || err == nil && resp.StatusCode >= 500) {
		st.upstreamFailed = true
	}
	if st.Context.Err() != nil || st.attempts >= c.s.maxAttempts || !st.rewindable {
		return false, nil
	}
	switch {
	case err != nil && errors.Is(err, ErrBlockedAddress):
		return false, nil
	case err != nil && isDialError(err):
		// Nothing was sent: safe whatever the method.
	case !st.idempotent:
		return false, nil
	case err != nil:
		if ok, _ := retryablehttp.ErrorPropagatedRetryPolicy(st.Context, nil, err); !ok {
			return false, nil
		}
	case !c.s.retryOnStatus(resp.StatusCode):
		return false, nil
	}
	wait := waitFor(resp, c.s.baseDelay, c.s.maxDelay, st.attempts, c.s.now())
	if dl, ok := st.Deadline(); ok && time.Until(dl) < wait {
		return false, nil
	}
	if !c.budget.withdraw() {
		st.exhausted = true
		c.tel.budgetExhausted(st.Context, st.span)
		return false, nil
	}
	c.tel.retry(st.Context, st.span, wait)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-st.Done():
			return false, nil
		}
	}
	return true, nil
}

// isDialError reports whether err happened while connecting, before any of the request
// was written.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
