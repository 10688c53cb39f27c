# make bench, call rate: the chart of tests/bench/cps.sh.
#   gnuplot -e "datafile='cps-STAMP.tsv'; outfile='cps-STAMP.png'" tests/bench/chart.gp
# datafile: one line per step, tab-separated, '#' header (columns as cps.sh writes them):
#   1 path  2 kind  4 offered cps  7 completed  8 failed  18/19 PDD added p50/p99 ms
#   20/21 INVITE -> VoiceCall p50/p99 ms ('-' where not measured)
# Top: failed calls (% of the step's calls) against the offered rate, per path.
# Bottom: post-dial delay added (p99) and INVITE -> VoiceCall accepted (p99) against the rate.

if (!exists("datafile")) datafile = 'cps.tsv'
if (!exists("outfile")) outfile = 'cps.png'

set terminal pngcairo size 1100,900 font ",10"
set output outfile
set datafile separator "\t"
set datafile missing "-"
set datafile commentschars "#"

# one path's column, NaN elsewhere (gnuplot then skips the point)
only(p, c) = (strcol(1) eq p) ? column(c) : NaN
# failed calls among the calls the step placed (a failing step is stopped early)
failpct(p) = (strcol(1) eq p && column(7) + column(8) > 0) ? 100.0 * column(8) / (column(7) + column(8)) : NaN

stats datafile using 4 nooutput
set xrange [32:STATS_max * 1.5]
set multiplot layout 2,1 title "scvbridge bench: call rate (probe and held steps, loopback, shared cores)"
set logscale x 2
set xlabel "offered call rate (calls/s)"
set grid
set key top left

set ylabel "failed calls (% of the calls placed)"
set yrange [-2:102]
plot datafile using (only("direct", 4)):(failpct("direct")) with points pt 7 ps 1.2 lc rgb "#555555" title "direct SIPp -> SIPp", \
     datafile using (only("kamailio", 4)):(failpct("kamailio")) with points pt 5 ps 1.2 lc rgb "#1b9e77" title "Kamailio (stateful proxy)", \
     datafile using (only("bridge", 4)):(failpct("bridge")) with points pt 9 ps 1.5 lc rgb "#d95f02" title "scvbridge + outbox"

set ylabel "milliseconds (p99, log)"
set logscale y 10
set autoscale y
set key top left
plot datafile using (only("kamailio", 4)):(only("kamailio", 19)) with points pt 5 ps 1.2 lc rgb "#1b9e77" title "Kamailio: post-dial delay added", \
     datafile using (only("bridge", 4)):(only("bridge", 19)) with points pt 9 ps 1.5 lc rgb "#d95f02" title "scvbridge: post-dial delay added", \
     datafile using (only("bridge", 4)):(only("bridge", 21)) with points pt 6 ps 1.5 lc rgb "#7570b3" title "scvbridge: INVITE -> VoiceCall accepted"
unset multiplot
