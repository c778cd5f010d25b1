// Fixture for the bit2hls synth parser tests: a hierarchy kept through -flatten, so that yosys
// prints one block per module plus a "design hierarchy" block with the totals.
(* keep_hierarchy *)
module add8 (input wire [7:0] a, b, output wire [8:0] s);
    assign s = {a[7], a} + {b[7], b};
endmodule

module hier_top (input wire clk, input wire [7:0] a, b, c, d, output reg [9:0] y);
    wire [8:0] s0, s1;
    add8 u0 (.a(a), .b(b), .s(s0));
    add8 u1 (.a(c), .b(d), .s(s1));
    always @(posedge clk) y <= {s0[8], s0} + {s1[8], s1};
endmodule
