package clients

import (
	"sync"
	"time"
)

// budget is the retry token bucket shared by the calls of one Client. Every call deposits
// ratio tokens, every retry withdraws a whole one, and perSec tokens trickle in with time
// up to burst. Under a total outage retries are thus bounded by ratio·calls + perSec·t +
// burst, whatever MaxAttempts says. It starts with one second of the floor, so a fresh
// client can retry its first failures.
type budget struct {
	ratio, perSec, burst float64
	now                  func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newBudget returns nil when the budget is disabled; a nil *budget allows every retry.
func newBudget(cfg BudgetConfig, now func() time.Time) *budget {
	if cfg.Ratio < 0 {
		return nil
	}
	b := &budget{
		ratio:  orDefault(cfg.Ratio, DefaultBudgetRatio),
		perSec: orDefault(cfg.MinPerSecond, DefaultBudgetMinPerSecond),
		burst:  orDefault(cfg.Burst, DefaultBudgetBurst),
		now:    now,
	}
	b.perSec = max(b.perSec, 0)
	b.burst = max(b.burst, 1)
	if b.perSec > 0 {
		b.last = now()
		b.tokens = min(b.perSec, b.burst)
	}
	return b
}

// deposit records a call.
func (b *budget) deposit() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+b.ratio, b.burst)
	b.mu.Unlock()
}

// withdraw takes a token for one retry, reporting whether there was one.
func (b *budget) withdraw() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perSec > 0 {
		now := b.now()
		if elapsed := now.Sub(b.last); elapsed > 0 {
			b.tokens = min(b.tokens+elapsed.Seconds()*b.perSec, b.burst)
			b.last = now
		}
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
