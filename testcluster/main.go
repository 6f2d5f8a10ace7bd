// Command testcluster runs the parts of a Kubernetes control plane the operator's end-to-end tests need, built from
// Kubernetes' published Go modules: an embedded etcd, kube-apiserver and kube-controller-manager, one per process.
//
//	testcluster etcd DATA_DIR CLIENT_URL PEER_URL
//	testcluster kube-apiserver FLAGS...
//	testcluster kube-controller-manager FLAGS...
//
// scripts/test-cluster.sh starts them with the flags the tests rely on; this program only dispatches.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testcluster etcd|kube-apiserver|kube-controller-manager ARGS...")
		os.Exit(2)
	}
	name, rest := os.Args[1], os.Args[2:]
	os.Args = append([]string{name}, rest...)
	switch name {
	case "etcd":
		os.Exit(runEtcd(rest))
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	default:
		fmt.Fprintf(os.Stderr, "testcluster: unknown component %q (etcd, kube-apiserver or kube-controller-manager)\n", name)
		os.Exit(2)
	}
}
