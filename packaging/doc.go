// Package packaging holds the tests of the .deb and .rpm packages that
// build.sh makes with nfpm: contents and permissions, lintian and rpmlint,
// reproducibility, and (as root) a real dpkg install, remove and purge.
package packaging
