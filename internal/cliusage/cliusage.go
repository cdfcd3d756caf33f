// Package cliusage gives both certfleet binaries one rule for command-line
// mistakes: a usage error (a wrong or missing argument, an unknown flag or
// command, a required flag not set) says what is wrong with the command's
// usage line and exits 2; every other failure exits 1, as the nats, vault
// and step CLIs do.
package cliusage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitFailure = 1
	ExitUsage   = 2
)

// Error is a usage error.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Mark makes root and every command below it report argument and flag
// mistakes as *Error, with the command's usage line.
func Mark(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &Error{fmt.Errorf("%w\nusage: %s", err, c.UseLine())}
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return &Error{fmt.Errorf("%w\nusage: %s", argError(c, a, err), c.UseLine())}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// ExitCode is the exit code for err (nil: 0).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue *Error
	if errors.As(err, &ue) {
		return ExitUsage
	}
	// Cobra reports these without a type of its own.
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "required flag(s) ") {
		return ExitUsage
	}
	return ExitFailure
}
