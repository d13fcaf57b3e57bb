// Command etcd is the etcd server the test control plane runs, built from the
// published go.etcd.io/etcd/server/v3 module at the version Kubernetes pins, so
// that no prebuilt binary has to be downloaded.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
