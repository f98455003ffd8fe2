# drawn by hop-bench --plot; redraw with: gnuplot fork_join.gp (in this folder)
set terminal pngcairo size 1100,280 font 'sans,10'
set output 'fork_join.png'
set title "fork-join: ms/fib(30), lower is better\nAMD EPYC, 2 cores, hop 0e0c737" noenhanced
unset key
set style fill solid 0.85 border -1
set grid xtics
set ytics nomirror noenhanced
set yrange [-0.6:4.600000]
set xrange [0.656419:21439.5]
set xlabel "ms/fib(30), log scale (bar: median; whiskers: min and max of the repetitions)" noenhanced
set logscale x
plot 'fork_join.dat' using (0.656419):0:(0.656419):2:($0-0.35):($0+0.35):5:yticlabels(1) with boxxyerror lc rgb variable, \
     '' using 2:0:3:4 with xerrorbars lc rgb 'black' pt 0, \
     '' using 4:0:6 with labels left offset 1,0 noenhanced
