package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dayDuration is a duration flag that also takes days, the unit
// certificate lifetimes are thought in: "14d", "1d12h", as well as Go
// durations ("36h", "90m").
type dayDuration time.Duration

func (d *dayDuration) String() string {
	if *d == 0 {
		return "0"
	}
	return time.Duration(*d).String()
}

func (d *dayDuration) Type() string { return "duration" }

func (d *dayDuration) Set(s string) error {
	v, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	*d = dayDuration(v)
	return nil
}

// parseDayDuration parses a Go duration with an optional leading whole
// number of days ("14d", "2d6h"), never negative.
func parseDayDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 14d, 36h or 1d12h", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var v time.Duration
	if rest != "" {
		var err error
		if v, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 14d, 36h or 1d12h", s)
		}
	}
	if s == "" || v < 0 {
		return 0, fmt.Errorf("%q: want a positive duration such as 14d, 36h or 1d12h", s)
	}
	return days + v, nil
}
