package config

import (
	"fmt"
	"strconv"
	"time"
)

// Concurrency is issuance.concurrency: the number of orders in flight to
// start from (the hub then adapts it to the CA, up to max_concurrency),
// or "auto" to start from DefaultConcurrency. Setting it equal to
// max_concurrency fixes it.
type Concurrency struct {
	Auto bool
	N    int // when not Auto
}

// ConcurrencyAuto is `concurrency = "auto"`.
var ConcurrencyAuto = Concurrency{Auto: true}

// Fixed returns concurrency = n.
func Fixed(n int) Concurrency { return Concurrency{N: n} }

// UnmarshalTOML accepts a whole number or "auto".
func (c *Concurrency) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < -1<<31 || x > 1<<31-1 {
			return fmt.Errorf("%d: want a number of orders or \"auto\"", x)
		}
		*c = Concurrency{N: int(x)}
		return nil
	case string:
		if x == "auto" {
			*c = ConcurrencyAuto
			return nil
		}
		return fmt.Errorf("%q: want a number of orders or \"auto\"", x)
	}
	return fmt.Errorf("%v: want a number of orders or \"auto\"", v)
}

// MarshalTOML writes "auto" or the number, as UnmarshalTOML reads them.
func (c Concurrency) MarshalTOML() ([]byte, error) {
	if c.Auto {
		return []byte(`"auto"`), nil
	}
	return []byte(strconv.Itoa(c.N)), nil
}

func (c Concurrency) String() string {
	if c.Auto {
		return "auto"
	}
	return strconv.Itoa(c.N)
}

// Start is the limit the hub starts from, given max_concurrency.
func (c Concurrency) Start(maxN int) int {
	if c.Auto {
		return max(1, min(DefaultConcurrency, maxN))
	}
	return c.N
}

// CALimits are a CA's published rate limits, which the hub paces its
// orders to (README: Issuance pace). Unset fields take the defaults for
// the CA's directory (see Limits).
type CALimits struct {
	// NewOrdersPer3h: new orders per ACME account per 3 hours; 0 = no limit.
	NewOrdersPer3h *int `toml:"new_orders_per_3h"`
	// CertsPerDomainPerWeek: certificates per registered domain (public
	// suffix + 1 label) per 7 days; 0 = no limit.
	CertsPerDomainPerWeek *int `toml:"certs_per_domain_per_week"`
	// RenewalsExempt: renewals (the same names as the certificate they
	// replace) do not count against these limits, as at Let's Encrypt.
	RenewalsExempt *bool `toml:"renewals_exempt"`
	// RenewalReserve is the share of each budget that first issuances
	// leave for renewals, when renewals count.
	RenewalReserve *float64 `toml:"renewal_reserve"`
}

// Limits are a CA's rate limits in effect.
type Limits struct {
	NewOrdersPer3h        int
	CertsPerDomainPerWeek int
	RenewalsExempt        bool
	RenewalReserve        float64
}

// Periods of the limits.
const (
	NewOrdersPeriod      = 3 * time.Hour
	CertsPerDomainPeriod = 7 * 24 * time.Hour
)

// DefaultRenewalReserve is the default renewal_reserve.
const DefaultRenewalReserve = 0.2

// Let's Encrypt's limits (https://letsencrypt.org/docs/rate-limits/ and
// .../docs/staging-environment/), which exempt renewals from both.
var (
	letsEncryptLimits = Limits{NewOrdersPer3h: 300, CertsPerDomainPerWeek: 50, RenewalsExempt: true,
		RenewalReserve: DefaultRenewalReserve}
	letsEncryptStagingLimits = Limits{NewOrdersPer3h: 1500, CertsPerDomainPerWeek: 30000, RenewalsExempt: true,
		RenewalReserve: DefaultRenewalReserve}
)

// Limits returns the CA's limits: those configured, the rest from
// Let's Encrypt's published limits when the directory is Let's Encrypt's,
// else none (a CA whose limits the hub does not know is paced by its 429
// answers alone).
func (ca CAConfig) Limits() Limits {
	l := Limits{RenewalReserve: DefaultRenewalReserve}
	switch ca.Directory {
	case LetsEncryptProduction:
		l = letsEncryptLimits
	case LetsEncryptStaging:
		l = letsEncryptStagingLimits
	}
	c := ca.RateLimits
	if c.NewOrdersPer3h != nil {
		l.NewOrdersPer3h = *c.NewOrdersPer3h
	}
	if c.CertsPerDomainPerWeek != nil {
		l.CertsPerDomainPerWeek = *c.CertsPerDomainPerWeek
	}
	if c.RenewalsExempt != nil {
		l.RenewalsExempt = *c.RenewalsExempt
	}
	if c.RenewalReserve != nil {
		l.RenewalReserve = *c.RenewalReserve
	}
	return l
}

// Validation bounds of the limits.
const (
	maxNewOrdersPer3h   = 1_000_000
	maxCertsPerWeek     = 10_000_000
	maxRenewalReserve   = 0.9
	maxConcurrencyLimit = 256
)

func (c Config) validateLimits(v *validator) {
	for i, ca := range c.CA {
		f := func(name string) string { return fmt.Sprintf("ca[%d].limits.%s", i, name) }
		l := ca.RateLimits
		if n := l.NewOrdersPer3h; n != nil && (*n < 0 || *n > maxNewOrdersPer3h) {
			v.OutOfRange(f("new_orders_per_3h"), *n, "want 0 (no limit) to %d", maxNewOrdersPer3h)
		}
		if n := l.CertsPerDomainPerWeek; n != nil && (*n < 0 || *n > maxCertsPerWeek) {
			v.OutOfRange(f("certs_per_domain_per_week"), *n, "want 0 (no limit) to %d", maxCertsPerWeek)
		}
		if r := l.RenewalReserve; r != nil && !(*r >= 0 && *r <= maxRenewalReserve) {
			v.OutOfRange(f("renewal_reserve"), *r, "want a share from 0 to %v, e.g. 0.2", maxRenewalReserve)
		}
	}
}

func (c Config) validateConcurrency(v *validator) {
	is := c.Issuance
	maxOK := is.MaxConcurrency >= 1 && is.MaxConcurrency <= maxConcurrencyLimit
	if !maxOK {
		v.OutOfRange("issuance.max_concurrency", is.MaxConcurrency, "want 1 to %d", maxConcurrencyLimit)
	}
	if is.Concurrency.Auto {
		return
	}
	switch {
	case is.Concurrency.N < 1 || is.Concurrency.N > maxConcurrencyLimit:
		v.OutOfRange("issuance.concurrency", is.Concurrency.N, "want \"auto\" or 1 to %d", maxConcurrencyLimit)
	case maxOK && is.Concurrency.N > is.MaxConcurrency:
		v.Conflict("issuance.concurrency", "%d: more than issuance.max_concurrency (%d); raise that too, or set both equal for a fixed concurrency",
			is.Concurrency.N, is.MaxConcurrency)
	}
}
