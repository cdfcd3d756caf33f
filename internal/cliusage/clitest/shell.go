package clitest

import (
	"strings"
	"unicode"
)

// Invocations splits a shell snippet (a command's Example) into the words
// of each simple command in it, as sh would: quotes and backslashes are
// honoured, a backslash-newline continues the line, "#" at the start of a
// word begins a comment, and |, ||, &&, ; and a newline separate
// commands. A command substitution "$(...)" or process substitution
// "<(...)" is a command of its own and one word ("SUBST") of the command
// around it. Redirections (<, >, >>, 2>) and their targets are dropped,
// and so are leading variable assignments (VAR=value cmd).
func Invocations(snippet string) [][]string {
	var (
		cmds     [][]string
		cur      []string
		word     strings.Builder
		inWord   bool
		redirect bool // the next word is a redirection's target
		outer    [][]string
	)
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		if redirect {
			redirect = false
			return
		}
		if len(cur) == 0 && isAssignment(w) {
			return
		}
		cur = append(cur, w)
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	rs := []rune(snippet)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		next := rune(0)
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case r == '\'':
			inWord = true
			for i++; i < len(rs) && rs[i] != '\''; i++ {
				word.WriteRune(rs[i])
			}
		case r == '"':
			inWord = true
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]) {
					i++
				}
				word.WriteRune(rs[i])
			}
		case r == '\\' && next == '\n':
			i++
		case r == '\\':
			inWord = true
			if next != 0 {
				word.WriteRune(next)
				i++
			}
		case r == '#' && !inWord:
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
		case r == '$' && next == '(', r == '<' && next == '(':
			endWord()
			outer = append(outer, cur)
			cur = nil
			i++
		case r == ')' && len(outer) > 0:
			endCmd()
			cur = append(outer[len(outer)-1], "SUBST")
			outer = outer[:len(outer)-1]
		case r == '<' || r == '>':
			if inWord && isDigits(word.String()) {
				// "2>": the descriptor is part of the redirection.
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(rs) && (rs[i+1] == '>' || rs[i+1] == '&') {
				i++
			}
			redirect = true
		case r == '\n' || r == ';' || r == '|' || r == '&':
			endCmd()
		case unicode.IsSpace(r):
			endWord()
		default:
			inWord = true
			word.WriteRune(r)
		}
	}
	endCmd()
	return cmds
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
