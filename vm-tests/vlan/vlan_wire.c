/* vlan_wire.c: puts vlan_wire.bpf.c on a lab link (tc, both ways) and prints its counters */
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vlan_wire.skel.h"

static const char *const names[] = { "pushed", "popped", "untagged", "other_vlan" };

static int usage(FILE *f)
{
	fprintf(f, "Usage: vlan_wire attach DEV VID PIN   tag what DEV sends with VID, take in only VID's frames;\n"
		   "                                     the counters are pinned at PIN\n"
		   "       vlan_wire stats PIN            print the counters\n");
	return f == stdout ? 0 : 2;
}

static int wire_stats(const char *pin)
{
	int fd = bpf_obj_get(pin);

	if (fd < 0) {
		fprintf(stderr, "Error: could not open \"%s\": %s\n", pin, strerror(errno));
		return 1;
	}
	for (__u32 k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		__u64 n = 0;

		if (bpf_map_lookup_elem(fd, &k, &n)) {
			fprintf(stderr, "Error: could not read \"%s\": %s\n", pin, strerror(errno));
			close(fd);
			return 1;
		}
		printf("%s%s %llu", k ? " " : "", names[k], (unsigned long long)n);
	}
	printf("\n");
	close(fd);
	return 0;
}

static int wire_attach(const char *dev, const char *vid_s, const char *pin)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, in);
	LIBBPF_OPTS(bpf_tc_opts, out);
	struct vlan_wire_bpf *skel = NULL;
	char *end;
	long vid = strtol(vid_s, &end, 10);
	bool pinned = false;
	int ret = 1;

	hook.ifindex = if_nametoindex(dev);
	if (!hook.ifindex) {
		fprintf(stderr, "Error: no interface \"%s\"\n", dev);
		return 1;
	}
	if (*end || vid < 1 || vid > 4094) {
		fprintf(stderr, "Error: VLAN id \"%s\": expected 1 to 4094\n", vid_s);
		return 1;
	}
	skel = vlan_wire_bpf__open();
	if (!skel) {
		fprintf(stderr, "Error: could not open the program: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->vid = vid;
	if (vlan_wire_bpf__load(skel) || bpf_map__pin(skel->maps.wire_stats, pin)) {
		fprintf(stderr, "Error: could not load the program or pin \"%s\": %s\n", pin, strerror(errno));
		goto cleanup;
	}
	pinned = true;
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	if (bpf_tc_hook_create(&hook) && errno != EEXIST) {
		fprintf(stderr, "Error: could not add clsact to \"%s\": %s\n", dev, strerror(errno));
		goto cleanup;
	}
	in.prog_fd = bpf_program__fd(skel->progs.wire_ingress);
	out.prog_fd = bpf_program__fd(skel->progs.wire_egress);
	hook.attach_point = BPF_TC_INGRESS;
	if (bpf_tc_attach(&hook, &in)) {
		fprintf(stderr, "Error: could not attach to \"%s\" ingress: %s\n", dev, strerror(errno));
		goto cleanup;
	}
	hook.attach_point = BPF_TC_EGRESS;
	if (bpf_tc_attach(&hook, &out)) {
		fprintf(stderr, "Error: could not attach to \"%s\" egress: %s\n", dev, strerror(errno));
		/* half a port would drop what the namespace receives untagged and send untagged */
		hook.attach_point = BPF_TC_INGRESS;
		in.prog_fd = in.prog_id = 0;
		in.flags = 0;
		bpf_tc_detach(&hook, &in);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret && pinned)
		unlink(pin);
	/* the filters hold the programs; the device's end removes them */
	vlan_wire_bpf__destroy(skel);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "attach"))
		return wire_attach(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "stats"))
		return wire_stats(argv[2]);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")))
		return usage(stdout);
	return usage(stderr);
}
