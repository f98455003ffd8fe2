# drawn by hop-bench --plot; redraw with: gnuplot offload.gp (in this folder)
set terminal pngcairo size 1100,280 font 'sans,10'
set output 'offload.png'
set title "offload: jobs/s, higher is better\nAMD EPYC, 2 cores, hop 0e0c737" noenhanced
unset key
set style fill solid 0.85 border -1
set grid xtics
set ytics nomirror noenhanced
set yrange [-0.6:4.600000]
set xrange [7087.94:3.36273e+07]
set xlabel "jobs/s, log scale (bar: median; whiskers: min and max of the repetitions)" noenhanced
set logscale x
plot 'offload.dat' using (7087.94):0:(7087.94):2:($0-0.35):($0+0.35):5:yticlabels(1) with boxxyerror lc rgb variable, \
     '' using 2:0:3:4 with xerrorbars lc rgb 'black' pt 0, \
     '' using 4:0:6 with labels left offset 1,0 noenhanced
