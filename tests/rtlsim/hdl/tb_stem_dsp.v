`timescale 1 ps / 1 ps
// The stem unit's DSP48E2 wrappers (rtl/verilog/bnn_stem.v) under random and extreme operands, every INMODE and
// OPMODE the unit uses, one line per cycle. Compiled once as is (behavioural code) and once with -DBNN_DSP48E2
// and Xilinx's DSP48E2 simulation model (not part of this repository); the two transcripts must be equal
// (tests/test_rtl_stem.py, test_dsp_wrappers_match_the_primitive).
module tb_stem_dsp;
    reg clk = 0;
    always #2500 clk = ~clk;
    // a chain of three MAC slices
    reg ld;
    reg [7:0] a_in[0:2], d_in[0:2];
    reg [8:0] x[0:2];
    reg [2:0] im[0:2];
    reg [8:0] op[0:2];
    wire [47:0] p[0:2], pc[0:2];
    genvar g;
    generate
        for (g = 0; g < 3; g = g + 1) begin : g_mac
            bnn_dsp_mac u (
                .clk(clk), .ld(ld), .a_in(a_in[g]), .d_in(d_in[g]), .x(x[g]), .inmode(im[g]), .opmode(op[g]),
                .pcin(g == 0 ? 48'd0 : pc[g == 0 ? 0 : g-1]), .p(p[g]), .pcout(pc[g])
            );
        end
    endgenerate
    // the affine slice
    reg ald, cea, bsel, p1, cep;
    reg [17:0] b_in;
    reg [47:0] c_in;
    reg [19:0] a;
    wire [47:0] ap;
    wire pd, pbd;
    bnn_dsp_aff #(.AW(20), .PDB(32)) u_aff (
        .clk(clk), .ld(ald), .b_in(b_in), .c_in(c_in), .a(a), .cea(cea), .bsel(bsel), .p1(p1), .cep(cep),
        .p(ap), .pd(pd), .pbd(pbd)
    );
    localparam [2:0] IMS0 = 3'b110, IMS1 = 3'b001, IMS2 = 3'b000, IMS3 = 3'b010;
    integer i, j, seed, r;
    function [8:0] pick_x(input integer v);
        case (v % 6)
            0: pick_x = 9'h0FF;  // 255
            1: pick_x = 9'h101;  // -255
            2: pick_x = 9'h100;  // -256
            default: pick_x = $random(seed);
        endcase
    endfunction
    initial begin
        seed = 11;
        ld = 1; ald = 1; cea = 1; bsel = 1; p1 = 1; cep = 1; b_in = 0; c_in = 0; a = 0;
        for (j = 0; j < 3; j = j + 1) begin
            a_in[j] = 0; d_in[j] = 0; x[j] = 0; im[j] = IMS3; op[j] = 9'b00_000_01_01;
        end
        #300000;  // past the simulation model's global reset
        for (i = 0; i < `CYCLES; i = i + 1) begin
            @(negedge clk);
            if (i >= 8) $display("%0d %h %h %h %h %h %h %h %b %b", i, p[0], p[1], p[2], pc[0], pc[1], pc[2], ap, pd, pbd);
            if (i >= 4) begin
                r = $random(seed);
                ld = (r & 7) == 0;
                ald = (r & 56) == 0;
                cea = r[6];
                bsel = r[7];
                p1 = r[8];
                cep = r[9] | r[10];
                b_in = (r[13:11] == 0) ? 18'h1FFFF : (r[13:11] == 1) ? 18'h20000 : $random(seed);
                c_in = (r[16:14] == 0) ? {1'b0, {47{1'b1}}} : (r[16:14] == 1) ? {1'b1, 47'd0} : {$random(seed), $random(seed)};
                a = (r[19:17] == 0) ? 20'h7FFFF : (r[19:17] == 1) ? 20'h80000 : $random(seed);
                for (j = 0; j < 3; j = j + 1) begin
                    r = $random(seed);
                    a_in[j] = (r[2:0] == 0) ? 8'h80 : (r[2:0] == 1) ? 8'h7F : $random(seed);
                    d_in[j] = (r[5:3] == 0) ? 8'h80 : (r[5:3] == 1) ? 8'h7F : $random(seed);
                    x[j] = pick_x(r[12:6]);
                    case (r[14:13])
                        0: im[j] = IMS0;
                        1: im[j] = IMS1;
                        2: im[j] = IMS2;
                        default: im[j] = IMS3;
                    endcase
                    case (r[16:15])
                        0: op[j] = 9'b00_000_01_01;
                        1: op[j] = 9'b00_010_01_01;
                        default: op[j] = 9'b01_001_01_01;
                    endcase
                end
            end
        end
        $finish;
    end
endmodule
